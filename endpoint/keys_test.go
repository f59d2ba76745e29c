package endpoint

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/hookd/hookd/signing"
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
