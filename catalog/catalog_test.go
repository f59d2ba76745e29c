package catalog_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/catalog"
	"github.com/hookd/hookd/embedded"
	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/topology"
)

// bucket starts an embedded NATS server with hookd's topology and returns
// the event-types bucket.
func bucket(t *testing.T) jetstream.KeyValue {
	t.Helper()
	ns, err := embedded.Start(embedded.Config{StoreDir: t.TempDir(), Logger: hookdtest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := ns.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	topo, err := topology.New(js, topology.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := topo.EnsureCore(context.Background()); err != nil {
		t.Fatal(err)
	}
	kv, err := topo.EventTypes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// run runs c until the test ends and waits for its first load.
func run(t *testing.T, c *catalog.Catalog) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-c.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("catalogue not loaded within 10s")
	}
}

const schema = `{"type":"object","required":["amount"],"properties":{"amount":{"type":"number"}}}`

func TestStoreLifecycle(t *testing.T) {
	ctx := context.Background()
	c := catalog.New(bucket(t), hookdtest.Logger())

	et := &catalog.EventType{Name: "order.created", Description: "placed", Schema: json.RawMessage(schema), Example: json.RawMessage(`{"amount":1}`)}
	if err := c.Create(ctx, et); err != nil {
		t.Fatal(err)
	}
	if et.CreatedAt.IsZero() || !et.CreatedAt.Equal(et.UpdatedAt) {
		t.Fatalf("timestamps %v %v", et.CreatedAt, et.UpdatedAt)
	}
	if err := c.Create(ctx, &catalog.EventType{Name: "order.created"}); !errors.Is(err, catalog.ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	var fe *catalog.FieldError
	if err := c.Create(ctx, &catalog.EventType{Name: "bad", Schema: json.RawMessage(`{"type":1}`)}); !errors.As(err, &fe) || fe.Field != "schema" {
		t.Fatalf("invalid schema: %v", err)
	}
	if _, err := c.Get(ctx, "bad"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("a refused type was stored: %v", err)
	}
	if err := c.Create(ctx, &catalog.EventType{Name: "alpha"}); err != nil {
		t.Fatal(err)
	}

	got, err := c.Get(ctx, "order.created")
	if err != nil || got.Description != "placed" || string(got.Example) != `{"amount":1}` {
		t.Fatalf("get: %+v %v", got, err)
	}
	// A schema the stored example does not match is refused, naming the
	// example, and nothing changes.
	_, err = c.Update(ctx, "order.created", func(t *catalog.EventType) error {
		t.Schema = json.RawMessage(`{"type":"object","required":["currency"]}`)
		return nil
	})
	if !errors.As(err, &fe) || fe.Field != "example" {
		t.Fatalf("update to a schema the example fails: %v", err)
	}
	up, err := c.Update(ctx, "order.created", func(t *catalog.EventType) error {
		t.Description, t.Example = "changed", json.RawMessage("null")
		return nil
	})
	if err != nil || up.Description != "changed" || up.Example != nil || !up.UpdatedAt.After(up.CreatedAt) {
		t.Fatalf("update: %+v %v", up, err)
	}
	if _, err := c.Update(ctx, "nope", func(*catalog.EventType) error { return nil }); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("update of a missing type: %v", err)
	}

	list, err := c.List(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "alpha" || list[1].Name != "order.created" {
		t.Fatalf("list: %v %v", list, err)
	}
	if err := c.Delete(ctx, "order.created"); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "order.created"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := c.Get(ctx, "order.created"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
}

// Every process follows the bucket; the one that writes applies its change
// at once.
func TestCatalogueFollowsTheBucket(t *testing.T) {
	ctx := context.Background()
	kv := bucket(t)
	writer := catalog.New(kv, hookdtest.Logger())
	reader := catalog.New(kv, hookdtest.Logger())
	run(t, writer)
	run(t, reader)

	if err := writer.Create(ctx, &catalog.EventType{Name: "order.created", Schema: json.RawMessage(schema)}); err != nil {
		t.Fatal(err)
	}
	// The writer checks at once, without waiting for its watch.
	var se *catalog.SchemaError
	if err := writer.Check(ctx, "order.created", []byte(`{"amount":"x"}`)); !errors.As(err, &se) || se.Path != "/amount" {
		t.Fatalf("writer's check: %v", err)
	}
	hookdtest.WaitFor(t, 10*time.Second, "the reader to see the type", func() bool {
		return reader.Check(ctx, "order.created", []byte(`{}`)) != nil
	})
	if err := reader.Check(ctx, "order.created", []byte(`{"amount":2}`)); err != nil {
		t.Fatalf("valid data refused: %v", err)
	}
	if err := reader.Check(ctx, "other.type", []byte(`"anything"`)); err != nil {
		t.Fatalf("an uncatalogued type was checked: %v", err)
	}

	// A schema change, then a deletion.
	if _, err := writer.Update(ctx, "order.created", func(t *catalog.EventType) error {
		t.Schema = json.RawMessage(`{"type":"object","required":["currency"]}`)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	hookdtest.WaitFor(t, 10*time.Second, "the reader to see the new schema", func() bool {
		return reader.Check(ctx, "order.created", []byte(`{"amount":2}`)) != nil
	})
	if err := writer.Delete(ctx, "order.created"); err != nil {
		t.Fatal(err)
	}
	if err := writer.Check(ctx, "order.created", []byte(`{}`)); err != nil {
		t.Fatalf("writer still checks a deleted type: %v", err)
	}
	hookdtest.WaitFor(t, 10*time.Second, "the reader to forget the type", func() bool {
		return reader.Lookup("order.created") == nil
	})
	// The writer's watch has by now replayed the create and update; the
	// deletion still holds once a later change has arrived.
	if err := reader.Create(ctx, &catalog.EventType{Name: "sentinel", Example: json.RawMessage(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	hookdtest.WaitFor(t, 10*time.Second, "the writer to see the sentinel", func() bool { return writer.Lookup("sentinel") != nil })
	if writer.Lookup("order.created") != nil {
		t.Fatal("a replayed older revision brought a deleted type back")
	}
	if ex := writer.Examples(); len(ex) != 1 || ex[0].Name != "sentinel" {
		t.Fatalf("examples: %v", ex)
	}
}

// Check waits for the first load: a process that has not read the
// catalogue yet does not wave events through.
func TestCheckWaitsForTheFirstLoad(t *testing.T) {
	c := catalog.New(bucket(t), hookdtest.Logger())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.Check(ctx, "a", []byte(`1`)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("check before load: %v, want the context's error", err)
	}
}
