package cli

import (
	"errors"
	"flag"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseInterspersed(t *testing.T) {
	for _, tc := range []struct {
		args []string
		pos  []string
		name string
	}{
		{[]string{"ID", "--name", "x"}, []string{"ID"}, "x"},
		{[]string{"--name", "x", "ID"}, []string{"ID"}, "x"},
		{[]string{"A", "--name", "x", "B"}, []string{"A", "B"}, "x"},
		{[]string{"A", "--", "--name", "x"}, []string{"A", "--name", "x"}, ""},
		{nil, nil, ""},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		name := fs.String("name", "", "")
		pos, err := parseInterspersed(fs, tc.args)
		if err != nil || !reflect.DeepEqual(pos, tc.pos) || *name != tc.name {
			t.Errorf("%q: got %q name %q, %v", tc.args, pos, *name, err)
		}
	}
}

func TestPairMapAndStringList(t *testing.T) {
	h := pairMap{sep: ":", form: "'Name: value'"}
	for _, v := range []string{"Authorization: Bearer a:b", "X-Empty:"} {
		if err := h.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(h.m, map[string]string{"Authorization": "Bearer a:b", "X-Empty": ""}) {
		t.Fatalf("headers %v", h.m)
	}
	if err := h.Set(": v"); err == nil || !strings.Contains(err.Error(), "'Name: value'") {
		t.Fatalf("empty name: %v", err)
	}
	m := pairMap{sep: "=", form: "key=value"}
	if err := m.Set(""); err != nil || m.m == nil || len(m.m) != 0 {
		t.Fatalf("'' must give an empty map: %v %v", m.m, err)
	}
	if err := m.Set("team= a=b "); err != nil || m.m["team"] != " a=b " {
		t.Fatalf("metadata %q %v", m.m, err)
	}
	var l stringList
	_ = l.Set("")
	if l == nil || len(l) != 0 {
		t.Fatalf("'' must give an empty list: %#v", l)
	}
}

func TestTimeArg(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]string{
		"":                     "",
		"2026-11-26T10:00:00Z": "2026-11-26T10:00:00Z",
		"2h":                   "2026-11-26T10:00:00Z",
		"0s":                   "2026-11-26T12:00:00Z",
	} {
		if got, err := timeArg("since", in, now); err != nil || got != want {
			t.Errorf("%q: %q, %v", in, got, err)
		}
	}
	var ue *usageError
	if _, err := timeArg("since", "yesterday", now); !errors.As(err, &ue) || !strings.Contains(err.Error(), "--since") {
		t.Fatalf("bad time: %v", err)
	}
}

func TestAnswerError(t *testing.T) {
	err := answerError(400, []byte(`{"error":{"code":"invalid_field","field":"filter","message":"invalid filter: x"}}`), false)
	if err.Error() != "400 invalid_field filter: invalid filter: x" {
		t.Fatalf("field error %q", err)
	}
	err = answerError(401, []byte(`{"error":{"code":"unauthorized","message":"missing key"}}`), true)
	if !strings.HasPrefix(err.Error(), "401 unauthorized: missing key") || !strings.Contains(err.Error(), "HOOKD_API_KEY") {
		t.Fatalf("no key %q", err)
	}
	err = answerError(502, []byte("<html>bad gateway</html>"), false)
	if err.Error() != "502 bad_gateway: <html>bad gateway</html>" {
		t.Fatalf("not JSON %q", err)
	}
}

func TestNewClientServer(t *testing.T) {
	for in, want := range map[string]string{
		"localhost:8080":         "http://localhost:8080",
		"http://127.0.0.1:8080/": "http://127.0.0.1:8080",
		"https://hooks.example":  "https://hooks.example",
		"https://h.example/api/": "https://h.example/api",
	} {
		c, err := newClient(in, "")
		if err != nil || c.base != want {
			t.Errorf("%q: %v, %v", in, c, err)
		}
	}
	for _, bad := range []string{"", "ftp://x", "http://"} {
		if _, err := newClient(bad, ""); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Usage, help and unknown commands, without a server.
func TestClientUsage(t *testing.T) {
	r := runMain(nil, "help")
	for _, cmd := range []string{"hookd endpoint", "hookd delivery", "hookd recover", "hookd event", "hookd rule", "hookd key", "hookd tenant", "--tenant", "HOOKD_API_KEY"} {
		if !strings.Contains(r.out, cmd) {
			t.Fatalf("usage lacks %q:\n%s", cmd, r.out)
		}
	}
	for _, g := range groups {
		if r := runMain(nil, g.name); r.code != 2 || !strings.Contains(r.err, "needs a command") {
			t.Fatalf("hookd %s: %s", g.name, r)
		}
		if r := runMain(nil, g.name, "help"); r.code != 0 || !strings.Contains(r.out, "hookd "+g.name+" "+g.cmds[0].name) {
			t.Fatalf("hookd %s help: %s", g.name, r)
		}
		for _, c := range g.cmds {
			r := runMain(nil, g.name, c.name, "--help")
			if r.code != 0 || !strings.Contains(r.err, "Usage: hookd "+g.name+" "+c.name) || !strings.Contains(r.err, "-server") {
				t.Fatalf("hookd %s %s --help: %s", g.name, c.name, r)
			}
		}
	}
	if r := runMain(nil, "recover", "-h"); r.code != 0 || !strings.Contains(r.err, "Usage: hookd recover ENDPOINT_ID [flags]") {
		t.Fatalf("recover -h: %s", r)
	}
	if r := runMain(nil, "key", "rotate"); r.code != 2 || !strings.Contains(r.err, `unknown command "rotate" for hookd key: one of create, list, revoke`) {
		t.Fatalf("unknown key command: %s", r)
	}
}
