package endpoint

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd/signing"
	"github.com/hookd/hookd/topology"
)

// SigningKeys gives the keys of the secrets SigningSecrets lists at each
// moment of a rotation's grace period, parsed once for the compiled
// endpoint, and refuses only a secret in use that cannot be parsed.
func TestSigningKeysFollowTheGracePeriod(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := &Endpoint{ID: "ep_1", Secret: NewSecret()}
	e.Rotate(t0, time.Hour, "")                                          // the first secret signs for an hour more
	e.Rotate(t0.Add(10*time.Minute), 2*time.Hour, signing.SchemeEd25519) // the second for two
	c := &Compiled{Endpoint: e}
	ts := time.Unix(1764238272, 0)
	for _, at := range []time.Time{t0.Add(30 * time.Minute), t0.Add(90 * time.Minute), t0.Add(3 * time.Hour)} {
		secrets := e.SigningSecrets(at)
		keys, err := c.SigningKeys(at)
		if err != nil || len(keys) != len(secrets) {
			t.Fatalf("at %s: %d keys (%v), want %d", at, len(keys), err, len(secrets))
		}
		for i, s := range secrets {
			want, err := signing.ParseKey(s)
			if err != nil {
				t.Fatal(err)
			}
			if got := keys[i].Sign("msg_1", ts, []byte("{}")); got != want.Sign("msg_1", ts, []byte("{}")) {
				t.Errorf("at %s, key %d signs %s, want %s", at, i, got, want.Sign("msg_1", ts, []byte("{}")))
			}
		}
	}
	a, _ := c.SigningKeys(t0.Add(3 * time.Hour))
	b, _ := c.SigningKeys(t0.Add(4 * time.Hour))
	if reflect.ValueOf(a[0]).Pointer() != reflect.ValueOf(b[0]).Pointer() {
		t.Error("the current secret was parsed again: its key is not kept")
	}

	bad := &Compiled{Endpoint: &Endpoint{ID: "ep_2", Secret: NewSecret(),
		PreviousSecrets: []PreviousSecret{{Secret: "whsec_not base64!", ExpiresAt: t0.Add(time.Hour)}}}}
	if _, err := bad.SigningKeys(t0); !errors.Is(err, signing.ErrInvalidSecret) {
		t.Errorf("an unusable secret in its grace period: %v, want ErrInvalidSecret", err)
	}
	if keys, err := bad.SigningKeys(t0.Add(2 * time.Hour)); err != nil || len(keys) != 1 {
		t.Errorf("after its grace period: %d keys, %v; want the current one's", len(keys), err)
	}
}

// The endpoints of a delivery id's fingerprint are looked up, through
// creations, updates and deletions, ids sharing a fingerprint included.
func TestSnapshotWithFingerprint(t *testing.T) {
	fp7 := topology.Fingerprint("ep_0007")
	var list []*Compiled
	for i := range 1000 {
		list = append(list, &Compiled{Endpoint: &Endpoint{ID: fmt.Sprintf("ep_%04d", i), Events: []string{"a.b"}}})
	}
	snap := NewSnapshot(list)
	for _, i := range []int{0, 7, 500, 999} {
		id := list[i].ID
		if got := snap.WithFingerprint(topology.Fingerprint(id)); !slices.Equal(got, []string{id}) {
			t.Errorf("fingerprint of %s: %v", id, got)
		}
	}
	for _, fp := range []string{"aaaaaaaa", "", "toolongforafingerprint"} {
		if got := snap.WithFingerprint(fp); len(got) != 0 {
			t.Errorf("fingerprint %q: %v", fp, got)
		}
	}
	// An update keeps the id, a deletion removes it.
	snap = snap.with([]change{{id: "ep_0007", c: &Compiled{Endpoint: &Endpoint{ID: "ep_0007", URL: "https://x"}}}, {id: "ep_0500"}})
	if got := snap.WithFingerprint(fp7); !slices.Equal(got, []string{"ep_0007"}) {
		t.Errorf("after an update: %v", got)
	}
	if got := snap.WithFingerprint(topology.Fingerprint("ep_0500")); len(got) != 0 {
		t.Errorf("after the deletion: %v", got)
	}
	// Ids sharing a fingerprint (40 bits: rare, so made here by hand).
	f := fingerprint([]byte(fp7))
	ids, _ := snap.byFP.Get(f)
	snap.byFP = snap.byFP.Set(f, ids.with("twin").with("third"))
	if got := snap.WithFingerprint(fp7); !slices.Equal(got, []string{"ep_0007", "twin", "third"}) {
		t.Errorf("three ids under one fingerprint: %v", got)
	}
	ids, _ = snap.byFP.Get(f)
	if ids, empty := ids.without("ep_0007"); empty || ids.id != "twin" || len(*ids.more) != 1 {
		t.Errorf("without the first: %+v", ids)
	}
}

// BenchmarkWithFingerprint looks up an unknown delivery id's fingerprint
// among 100,000 endpoints, as GET /v1/deliveries/{id} does.
//
//	go test -run '^$' -bench WithFingerprint -benchmem ./endpoint/
func BenchmarkWithFingerprint(b *testing.B) {
	list := make([]*Compiled, 100_000)
	for i := range list {
		list[i] = &Compiled{Endpoint: &Endpoint{ID: fmt.Sprintf("ep_%026d", i)}}
	}
	snap := NewSnapshot(list)
	b.ReportAllocs()
	for b.Loop() {
		if len(snap.WithFingerprint("aaaaaaaa")) != 0 {
			b.Fatal("found")
		}
	}
}
