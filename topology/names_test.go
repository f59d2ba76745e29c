package topology

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// unprefixed are the names of a deployment without a prefix.
var unprefixed Names

// allNames lists every name n gives, by kind, for one endpoint id.
func allNames(n Names, endpointID string) (streams, buckets, subjects []string) {
	streams = []string{n.EventsStream(), n.DeadStream(), n.AttemptsStream(), n.IndexStream(),
		n.HeldStream(), n.BatchesStream(), n.QueueStream(0, 1), n.QueueStream(1, 2), n.QueueStream(3, 4), n.LogStream(), n.EndpointStream(endpointID), n.BatchStream(endpointID), n.BenchStream()}
	buckets = []string{n.EndpointsBucket(), n.HealthBucket(), n.RateBucket(), n.RoutingBucket(),
		n.TenantsBucket(), n.KeysBucket(), n.EventTypesBucket(), n.HeldBucket(), n.StatsBucket(), n.RequeuedBucket()}
	for _, b := range buckets {
		streams = append(streams, KVStream(b))
	}
	subjects = []string{n.EventsSubjects(), n.TenantEventsSubjects(), n.EventSubject("order.paid"),
		n.TenantEventSubject("acme", "order.paid"), n.HookdSubjects(), n.DeliverySubject(endpointID),
		n.LaneSubject(endpointID, "3"), n.WakeSubject(endpointID), n.BatchSubject(endpointID),
		n.DeadSubject(endpointID), n.AttemptSubject(endpointID, "dlv_1"), n.IndexSubjects(),
		n.HeldSubject(endpointID), n.QueueSubject(endpointID), n.ShardSubjects(2), n.ShardSubjects(-1), n.OrderedSubject(endpointID, 0), n.OrderedSubject(endpointID, 3),
		n.OrderedSubjects(), n.BatchesSubject(endpointID),
		n.IndexSubject("acme", "evt_1"), n.OrderedIndexSubject("acme", "evt_1"), n.OpsSubject("endpoint.disabled"),
		n.BenchSubject(), n.LogSubject(endpointID)}
	return streams, buckets, subjects
}

// Without a prefix every name is exactly what hookd has always used, so
// the streams and buckets of existing data directories are found again.
func TestUnprefixedNamesUnchanged(t *testing.T) {
	n, err := NewNames("")
	if err != nil || n != unprefixed {
		t.Fatalf(`NewNames(""): %v %v, want the zero Names`, n, err)
	}
	for got, want := range map[string]string{
		n.EventsStream():                     "HOOKD_EVENTS",
		n.DeadStream():                       "HOOKD_DEAD",
		n.AttemptsStream():                   "HOOKD_ATTEMPTS",
		n.IndexStream():                      "HOOKD_EVENT_INDEX",
		n.EndpointStream("ep_1"):             "HOOKD_EP_ep_1",
		n.BatchStream("ep_1"):                "HOOKD_BATCH_ep_1",
		n.BenchStream():                      "HOOKD_BENCH_RAW",
		n.HeldStream():                       "HOOKD_HELD",
		n.QueueStream(0, 1):                  "HOOKD_QUEUE",
		n.QueueStream(1, 2):                  "HOOKD_QUEUE_1_OF_2",
		n.RetiredQueueSubject("HOOKD_QUEUE"): "hookd.qretired.HOOKD_QUEUE",
		n.QueueSubject("ep_1"):               "hookd.q." + strconv.Itoa(Shard("ep_1")) + ".ep_1",
		n.ShardSubjects(3):                   "hookd.q.3.*",
		n.ShardSubjects(-1):                  "hookd.q.*.*",
		n.BatchesStream():                    "HOOKD_BATCHES",
		n.HeldSubject("ep_1"):                "hookd.held.ep_1",
		n.OrderedSubject("ep_1", 0):          "hookd.ord.ep_1",
		n.OrderedSubject("ep_1", 16):         "hookd.ord.ep_1.16",
		n.OrderedSubjects():                  "hookd.ord.>",
		n.BatchesSubject("ep_1"):             "hookd.batches.ep_1",
		n.EndpointsBucket():                  "hookd_endpoints",
		n.HealthBucket():                     "hookd_endpoint_health",
		n.RateBucket():                       "hookd_rate",
		n.RoutingBucket():                    "hookd_routing",
		n.TenantsBucket():                    "hookd_tenants",
		n.KeysBucket():                       "hookd_keys",
		n.EventTypesBucket():                 "hookd_event_types",
		n.HeldBucket():                       "hookd_held",
		KVStream(n.EndpointsBucket()):        "KV_hookd_endpoints",
		n.EventsSubjects():                   "events.>",
		n.TenantEventsSubjects():             "tenants.*.events.>",
		n.EventSubject("order.paid"):         "events.order.paid",
		n.TenantEventSubject("acme", "x.y"):  "tenants.acme.events.x.y",
		n.HookdSubjects():                    "hookd.>",
		n.DeliverySubject("ep_1"):            "hookd.deliver.ep_1",
		n.LaneSubject("ep_1", "*"):           "hookd.deliver.ep_1.*",
		n.WakeSubject("ep_1"):                "hookd.wake.ep_1",
		n.BatchSubject("ep_1"):               "hookd.batch.ep_1",
		n.DeadSubject("ep_1"):                "hookd.dead.ep_1",
		n.AttemptSubject("ep_1", "*"):        "hookd.attempts.ep_1.*",
		n.IndexSubjects():                    "hookd.index.>",
		// The fingerprint is part of stored delivery ids: it must not move.
		n.LogSubject("ep_1"):         "hookd.log." + Fingerprint("ep_1"),
		Fingerprint("ep_1"):          "dmevp37r",
		n.LogFingerprintSubject("*"): "hookd.log.*",
		// The hash is part of the stored index: it must not move.
		n.IndexSubject("acme", "evt_1"):        "hookd.index.a6134578990c931ceb7241203a246200",
		n.OrderedIndexSubject("acme", "evt_1"): "hookd.index.a6134578990c931ceb7241203a246200.ordered",
		n.OpsSubject("endpoint.disabled"):      "hookd.ops.endpoint.disabled",
		n.BenchSubject():                       "hookd.bench.raw",
		n.Unprefixed("events.a"):               "events.a",
	} {
		if got != want {
			t.Errorf("unprefixed name %q, want %q", got, want)
		}
	}
}

// With a prefix, every subject is "<prefix>." and every stream and bucket
// "<prefix>_" before the unprefixed name, and the prefix is stripped again
// when an event's subject is parsed.
func TestPrefixedNames(t *testing.T) {
	n, err := NewNames("acme-prod")
	if err != nil {
		t.Fatal(err)
	}
	streams, buckets, subjects := allNames(n, "ep_1")
	ustreams, ubuckets, usubjects := allNames(unprefixed, "ep_1")
	for i := range streams {
		if !strings.HasPrefix(ustreams[i], "KV_") && streams[i] != "acme-prod_"+ustreams[i] ||
			strings.HasPrefix(ustreams[i], "KV_") && streams[i] != "KV_acme-prod_"+strings.TrimPrefix(ustreams[i], "KV_") {
			t.Errorf("stream %q: not the prefixed %q", streams[i], ustreams[i])
		}
	}
	for i := range buckets {
		if buckets[i] != "acme-prod_"+ubuckets[i] {
			t.Errorf("bucket %q: not the prefixed %q", buckets[i], ubuckets[i])
		}
	}
	for i := range subjects {
		if subjects[i] != "acme-prod."+usubjects[i] {
			t.Errorf("subject %q: not the prefixed %q", subjects[i], usubjects[i])
		}
	}
	if got := n.EventSubject("order.paid"); got != "acme-prod.events.order.paid" {
		t.Errorf("event subject %q", got)
	}
	for subject, want := range map[string]struct {
		tenant, typ string
		raised      bool
	}{
		"acme-prod.events.order.paid":              {"", "order.paid", false},
		"acme-prod.tenants.t1.events.order.paid":   {"t1", "order.paid", false},
		"acme-prod.events.hookd.endpoint.disabled": {"", "hookd.endpoint.disabled", false},
		"acme-prod.hookd.ops.endpoint.disabled":    {"", "hookd.endpoint.disabled", true},
		"hookd.ops.endpoint.disabled":              {"", "hookd.ops.endpoint.disabled", false}, // another deployment's
	} {
		tenant, typ, raised := n.ParseEventSubject(subject)
		if tenant != want.tenant || typ != want.typ || raised != want.raised {
			t.Errorf("ParseEventSubject(%q) = %q, %q, %v, want %+v", subject, tenant, typ, raised, want)
		}
	}
	if got := n.Unprefixed("acme-prod.tenants.t1.events.a"); got != "tenants.t1.events.a" {
		t.Errorf("Unprefixed: %q", got)
	}
	if id, ok := n.EndpointOfStream("acme-prod_HOOKD_EP_ep_1"); !ok || id != "ep_1" {
		t.Errorf("EndpointOfStream of its own endpoint stream: %q %v", id, ok)
	}
	if id, ok := n.EndpointOfBatchStream(n.BatchStream("ep_1")); !ok || id != "ep_1" {
		t.Errorf("EndpointOfBatchStream of its own batch stream: %q %v", id, ok)
	}
	if id, ok := n.EndpointOfWake(n.WakeSubject("ep_1")); !ok || id != "ep_1" {
		t.Errorf("EndpointOfWake: %q %v", id, ok)
	}
	if id, ok := n.EndpointOfHeld(n.HeldSubject("ep_1")); !ok || id != "ep_1" {
		t.Errorf("EndpointOfHeld: %q %v", id, ok)
	}
	if id, ok := n.EndpointOfQueue(n.QueueSubject("ep_1")); !ok || id != "ep_1" {
		t.Errorf("EndpointOfQueue: %q %v", id, ok)
	}
	if id, ok := n.EndpointOfQueue(unprefixed.QueueSubject("ep_1")); ok {
		t.Errorf("EndpointOfQueue of another deployment's subject: %q", id)
	}
	if id, ok := n.EndpointOfBatches(n.BatchesSubject("ep_1")); !ok || id != "ep_1" {
		t.Errorf("EndpointOfBatches: %q %v", id, ok)
	}
	for lane := range 3 {
		if id, got, ok := n.EndpointOfOrdered(n.OrderedSubject("ep_1", lane)); !ok || id != "ep_1" || got != lane {
			t.Errorf("EndpointOfOrdered lane %d: %q %d %v", lane, id, got, ok)
		}
	}
	for _, s := range []string{unprefixed.HeldSubject("ep_1"), n.HeldSubject("ep_1") + ".x", n.OrderedSubject("ep_1", 0) + ".x", n.OrderedSubject("ep_1", 0) + ".0"} {
		if id, ok := n.EndpointOfHeld(s); ok {
			t.Errorf("EndpointOfHeld(%q) = %q", s, id)
		}
		if id, _, ok := n.EndpointOfOrdered(s); ok {
			t.Errorf("EndpointOfOrdered(%q) = %q", s, id)
		}
	}
	// Another deployment's endpoint streams are not this one's.
	other, _ := NewNames("acme")
	for _, s := range []string{unprefixed.EndpointStream("ep_1"), other.EndpointStream("ep_1"), other.BatchStream("ep_1")} {
		if id, ok := n.EndpointOfStream(s); ok {
			t.Errorf("EndpointOfStream(%q) = %q: another deployment's stream taken for this one's", s, id)
		}
		if id, ok := n.EndpointOfBatchStream(s); ok {
			t.Errorf("EndpointOfBatchStream(%q) = %q: another deployment's stream taken for this one's", s, id)
		}
	}
}

var (
	// Stream and bucket names nats-server and nats.go accept (nats.go's
	// bucket check is the stricter one).
	validName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	// A subject token: no dots, wildcards or white space; a wildcard is a
	// whole token.
	validToken = regexp.MustCompile(`^([^.*> \t\r\n]+|\*|>)$`)
)

// Every name of every valid prefix is a valid stream or bucket name or
// subject, and two prefixes never share a name, even prefixes made to look
// like another's names.
func TestNamesValidAndDisjoint(t *testing.T) {
	prefixes := []string{"", "a", "acme", "acme-prod_2", "hookd-2", "a_hookd", "a_hookd_ep_x", "a-hookd_endpoints", strings.Repeat("z", MaxPrefixLen)}
	owner := map[string]string{}
	for _, p := range prefixes {
		n, err := NewNames(p)
		if err != nil {
			t.Fatalf("NewNames(%q): %v", p, err)
		}
		streams, buckets, subjects := allNames(n, "ep_x")
		for _, s := range append(slices.Clone(streams), buckets...) {
			if !validName.MatchString(s) {
				t.Errorf("prefix %q: %q is not a valid stream or bucket name", p, s)
			}
		}
		for _, s := range subjects {
			for _, tok := range strings.Split(s, ".") {
				if !validToken.MatchString(tok) {
					t.Errorf("prefix %q: subject %q has an invalid token %q", p, s, tok)
				}
			}
		}
		for _, name := range append(append(streams, buckets...), n.EventSubject("order.paid"), n.DeliverySubject("ep_x")) {
			if o, ok := owner[name]; ok && o != p {
				t.Errorf("prefixes %q and %q share the name %q", o, p, name)
			}
			owner[name] = p
		}
	}
	// Subjects of distinct prefixes never overlap: their events-stream
	// patterns are disjoint, so both deployments' streams can be created
	// in one account.
	for _, p := range prefixes {
		for _, q := range prefixes {
			if p == q {
				continue
			}
			np, _ := NewNames(p)
			nq, _ := NewNames(q)
			for _, pat := range []string{np.EventsSubjects(), np.TenantEventsSubjects(), np.HookdSubjects()} {
				for _, subj := range []string{nq.EventSubject("a.b"), nq.TenantEventSubject("t", "a.b"), nq.DeliverySubject("ep_x"), nq.TenantEventSubject("events", "a")} {
					if subjectMatches(pat, subj) {
						t.Errorf("prefix %q's pattern %q matches prefix %q's subject %q", p, pat, q, subj)
					}
				}
			}
		}
	}
}

// subjectMatches reports whether a NATS subject pattern matches subject.
func subjectMatches(pattern, subject string) bool {
	pt, st := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, tok := range pt {
		if tok == ">" {
			return len(st) > i
		}
		if i >= len(st) || tok != "*" && tok != st[i] {
			return false
		}
	}
	return len(pt) == len(st)
}

func TestValidatePrefix(t *testing.T) {
	for _, ok := range []string{"", "a", "0", "acme", "acme-prod", "acme_prod_2", strings.Repeat("a", MaxPrefixLen)} {
		if err := ValidatePrefix(ok); err != nil {
			t.Errorf("ValidatePrefix(%q): %v", ok, err)
		}
	}
	for bad, says := range map[string]string{
		"Acme":                              "lower-case",
		"acme.prod":                         "lower-case",
		"acme prod":                         "lower-case",
		"acme*":                             "lower-case",
		">":                                 "lower-case",
		"acme/prod":                         "lower-case",
		"é":                                 "lower-case",
		strings.Repeat("a", MaxPrefixLen+1): "longer than 32",
		"events":                            "inside the unprefixed",
		"tenants":                           "inside the unprefixed",
		"hookd":                             "inside the unprefixed",
	} {
		err := ValidatePrefix(bad)
		if !errors.Is(err, ErrInvalidPrefix) || !strings.Contains(err.Error(), says) {
			t.Errorf("ValidatePrefix(%q) = %v, want ErrInvalidPrefix saying %q", bad, err, says)
		}
		if _, err := NewNames(bad); !errors.Is(err, ErrInvalidPrefix) {
			t.Errorf("NewNames(%q) = %v, want ErrInvalidPrefix", bad, err)
		}
		if _, err := New(nil, Config{Prefix: bad}); !errors.Is(err, ErrInvalidPrefix) {
			t.Errorf("New with prefix %q = %v, want ErrInvalidPrefix", bad, err)
		}
	}
}

// On a real server, a prefixed topology creates every stream and bucket
// under its prefix, beside an unprefixed one, and a second start changes
// nothing.
func TestEnsureCoreWithPrefix(t *testing.T) {
	js := startJetStream(t)
	ctx := context.Background()
	plain, _ := New(js, Config{})
	prefixed, err := New(js, Config{Prefix: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	for _, topo := range []*Topology{plain, prefixed, prefixed} {
		if err := topo.EnsureCore(ctx); err != nil {
			t.Fatalf("EnsureCore (prefix %q): %v", topo.Names().Prefix(), err)
		}
	}
	if _, err := js.Publish(ctx, prefixed.Names().HeldSubject("ep_1"), nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range prefixed.coreStreams() {
		s, err := js.Stream(ctx, want.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !sameStream(s.CachedInfo().Config, want) {
			t.Errorf("stream %s: stored %+v differs from wanted %+v", want.Name, s.CachedInfo().Config, want)
		}
	}
	var names []string
	list := js.ListStreams(ctx)
	for info := range list.Info() {
		names = append(names, info.Config.Name)
		if strings.HasPrefix(info.Config.Name, "acme_") || strings.HasPrefix(info.Config.Name, "KV_acme_") {
			for _, subj := range info.Config.Subjects {
				if !strings.HasPrefix(subj, "acme.") && !strings.HasPrefix(subj, "$KV.acme_") {
					t.Errorf("stream %s captures %q, outside the prefix", info.Config.Name, subj)
				}
			}
		}
	}
	if err := list.Err(); err != nil {
		t.Fatal(err)
	}
	streams, buckets, _ := allNames(prefixed.Names(), "ep_1")
	for _, want := range append(streams[:6], KVStream(buckets[0]), KVStream(buckets[len(buckets)-1])) {
		if !slices.Contains(names, want) {
			t.Errorf("stream %s missing; have %v", want, names)
		}
	}
	// 8 core streams and 10 buckets each: none per endpoint.
	if len(names) != 2*(8+10) {
		t.Errorf("%d streams, want %d: %v", len(names), 2*(8+10), names)
	}
	backlogs, err := prefixed.Backlogs(ctx)
	if err != nil || len(backlogs) != 1 {
		t.Errorf("Backlogs: %v %v, want ep_1 alone", backlogs, err)
	}
}

// A stream of another application on "events.>" keeps hookd without a
// prefix from creating its events stream: the error says so and what to
// do, and the other stream is left as it was.
func TestEnsureCoreRefusedBySubjectsTaken(t *testing.T) {
	js := startJetStream(t)
	ctx := context.Background()
	foreign := jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"events.>"}, Storage: jetstream.MemoryStorage}
	if _, err := js.CreateStream(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	topo, _ := New(js, Config{})
	err := topo.EnsureCore(ctx)
	if !errors.Is(err, ErrSubjectsTaken) || !strings.Contains(err.Error(), "HOOKD_EVENTS") || !strings.Contains(err.Error(), "--prefix") {
		t.Fatalf("EnsureCore beside a stream on events.>: %v, want ErrSubjectsTaken naming HOOKD_EVENTS and --prefix", err)
	}
	s, err := js.Stream(ctx, "ORDERS")
	if err != nil || !slices.Equal(s.CachedInfo().Config.Subjects, foreign.Subjects) {
		t.Fatalf("foreign stream after: %v %v", s, err)
	}
	prefixed, _ := New(js, Config{Prefix: "hk"})
	if err := prefixed.EnsureCore(ctx); err != nil {
		t.Fatalf("EnsureCore with a prefix beside a stream on events.>: %v", err)
	}
}
