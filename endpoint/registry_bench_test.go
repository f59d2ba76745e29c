package endpoint

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// entry is a key-value entry as the registry's watch hands it over: the
// stored JSON of an endpoint, or a delete.
type entry struct {
	key   string
	value []byte
	op    jetstream.KeyValueOp
}

func (e entry) Bucket() string                  { return "hookd_endpoints" }
func (e entry) Key() string                     { return e.key }
func (e entry) Value() []byte                   { return e.value }
func (e entry) Revision() uint64                { return 0 }
func (e entry) Created() time.Time              { return time.Time{} }
func (e entry) Delta() uint64                   { return 0 }
func (e entry) Operation() jetstream.KeyValueOp { return e.op }

// benchPut returns the entry hookd bench's endpoint i stores: events
// "bench.*", filter `data.tenant == "t-<i>"` (v changes the literal, as an
// update would).
func benchPut(tb testing.TB, i, v int) jetstream.KeyValueEntry {
	e := Endpoint{
		ID: benchID(i), URL: fmt.Sprintf("http://127.0.0.1:41234/e/%d", i), Events: []string{"bench.*"},
		Filter: fmt.Sprintf(`data.tenant == "t-%d"`, i+v), Name: fmt.Sprintf("bench %d", i),
		Secret: "whsec_8r1JPjPmK3MGvN1fGkPrN54GH27dDlXHwRp2ZTBeskY=", CreatedAt: time.Now(), UpdatedAt: time.Now(),
	}
	b, err := json.Marshal(&e)
	if err != nil {
		tb.Fatal(err)
	}
	return entry{key: e.ID, value: b, op: jetstream.KeyValuePut}
}

func benchID(i int) string { return fmt.Sprintf("ep_01jbench%09d", i) }

func quietRegistry() *Registry {
	return NewRegistry(nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// BenchmarkRegistryApply applies batches of 100 changes (40 creates, 40
// deletes, 20 filter updates, as during a bulk import with edits) to a
// registry that holds n endpoints of one tenant, each with its own filter
// as hookd bench makes them. It reports the cost per change (ns/update:
// decoding and compiling the endpoint, O(1), and making the next snapshot,
// index-ns/update) and each one's ratio to the n=1,000 case of the same
// run: flat when a batch costs O(k) or O(k log n), not O(n).
func BenchmarkRegistryApply(b *testing.B) {
	const k = 100
	var base, baseIndex float64
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("endpoints=%d", n), func(b *testing.B) {
			r := quietRegistry()
			initial := make([]jetstream.KeyValueEntry, n)
			for i := range initial {
				initial[i] = benchPut(b, i, 0)
			}
			r.applyAll(initial)
			if got := r.Snapshot().Len(); got != n {
				b.Fatalf("%d endpoints loaded, want %d", got, n)
			}
			lo, hi, round := 0, n, 0 // the live ids are [lo, hi)
			batch := make([]jetstream.KeyValueEntry, 0, k)
			var compiling, indexing time.Duration
			for b.Loop() {
				b.StopTimer()
				round++
				batch = batch[:0]
				for range 40 {
					batch = append(batch, benchPut(b, hi, 0))
					hi++
					batch = append(batch, entry{key: benchID(lo), op: jetstream.KeyValueDelete})
					lo++
				}
				for j := range 20 {
					batch = append(batch, benchPut(b, lo+(round*37+j*101)%(hi-lo), round))
				}
				b.StartTimer()
				start := time.Now()
				changes := r.changesOf(batch) // applyAll is changesOf, then apply
				compiled := time.Now()
				r.apply(changes)
				compiling, indexing = compiling+compiled.Sub(start), indexing+time.Since(compiled)
			}
			perUpdate := float64((compiling + indexing).Nanoseconds()) / float64(b.N*k)
			perIndex := float64(indexing.Nanoseconds()) / float64(b.N*k)
			if n == 1000 {
				base, baseIndex = perUpdate, perIndex
			}
			b.ReportMetric(perUpdate, "ns/update")
			b.ReportMetric(perIndex, "index-ns/update")
			if base > 0 {
				b.ReportMetric(perUpdate/base, "x-vs-n1000")
				b.ReportMetric(perIndex/baseIndex, "index-x-vs-n1000")
			}
			if got := r.Snapshot().Len(); got != n {
				b.Fatalf("%d endpoints after the batches, want %d", got, n)
			}
		})
	}
}

// BenchmarkSnapshotGet looks an endpoint up by id among 100,000, as
// workers do several times per delivery.
func BenchmarkSnapshotGet(b *testing.B) {
	const n = 100000
	r := quietRegistry()
	initial := make([]jetstream.KeyValueEntry, n)
	for i := range initial {
		initial[i] = benchPut(b, i, 0)
	}
	r.applyAll(initial)
	snap := r.Snapshot()
	ids := make([]string, 1024)
	for i := range ids {
		ids[i] = benchID(i * 97 % n)
	}
	i := 0
	for b.Loop() {
		if snap.Get(ids[i%len(ids)]) == nil {
			b.Fatal("not found")
		}
		i++
	}
}
