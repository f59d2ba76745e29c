package cli

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// --prefix (or HOOKD_PREFIX) reaches the topology; the flag wins over the
// environment.
func TestPrefixFlagReachesTheTopology(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, nil, ""},
		{[]string{"--prefix", "acme"}, nil, "acme"},
		{nil, map[string]string{"HOOKD_PREFIX": "acme-prod_2"}, "acme-prod_2"},
		{[]string{"--prefix", "blue"}, map[string]string{"HOOKD_PREFIX": "green"}, "blue"},
	} {
		f, err := parse(t, c.args, c.env)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := f.config("serve", io.Discard)
		if err != nil {
			t.Fatalf("%v %v: %v", c.args, c.env, err)
		}
		if cfg.Topology.Prefix != c.want {
			t.Errorf("%v %v: prefix %q, want %q", c.args, c.env, cfg.Topology.Prefix, c.want)
		}
	}
}

// A prefix that is not one lower-case subject token is a usage error
// naming the flag, before anything starts; likewise for hookd bench.
func TestBadPrefixNamesTheFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  map[string]string
		says string
	}{
		{[]string{"serve", "--prefix", "Acme"}, nil, "lower-case"},
		{[]string{"serve", "--prefix", "acme.prod"}, nil, "lower-case"},
		{[]string{"router", "--nats", "nats://127.0.0.1:1", "--prefix", "a>"}, nil, "lower-case"},
		{[]string{"serve"}, map[string]string{"HOOKD_PREFIX": "events"}, "events"},
		{[]string{"serve", "--prefix", strings.Repeat("a", 33)}, nil, "longer than 32"},
		{[]string{"bench", "--prefix", "Acme"}, nil, "lower-case"},
	} {
		var out, errOut bytes.Buffer
		if code := Main(c.args, &out, &errOut, env(c.env)); code != 2 || !strings.Contains(errOut.String(), "--prefix") || !strings.Contains(errOut.String(), c.says) {
			t.Errorf("%v %v: exit %d %q, want 2 naming --prefix and saying %q", c.args, c.env, code, errOut.String(), c.says)
		}
	}
}
