package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/internal/testcerts"
)

func writeIn(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func serveConfig(t *testing.T, role string, args []string, vars map[string]string) (app.Config, error) {
	t.Helper()
	f, err := parse(t, args, vars)
	if err != nil {
		return app.Config{}, err
	}
	cfg, err := f.config(role, io.Discard)
	if err != nil {
		return cfg, err
	}
	return cfg, f.internalKey(&cfg, env(vars))
}

// --nats-context reads a nats CLI context, by path or by name; flags win
// over its fields.
func TestNATSContext(t *testing.T) {
	dir := t.TempDir()
	ca := writeIn(t, dir, "ca.pem", "not read here")
	creds := writeIn(t, dir, "hookd.creds", "not read here")
	ctxJSON := `{"description":"prod","url":"nats://a:4222,nats://b:4222","user":"hookd","password":"s3cret","ca":"` + ca + `",
		"inbox_prefix":"_PROD_INBOX","tls_first":true,"color_scheme":"","jetstream_domain":"","future_field":1}`
	path := writeIn(t, dir, "prod.json", ctxJSON)
	t.Setenv("XDG_CONFIG_HOME", dir)
	writeIn(t, dir, "nats/context/prod.json", ctxJSON)

	for _, arg := range []string{path, "prod"} {
		cfg, err := serveConfig(t, "worker", []string{"--nats-context", arg}, nil)
		if err != nil {
			t.Fatalf("%s: %v", arg, err)
		}
		want := app.NATSClient{User: "hookd", Password: "s3cret", CAFile: ca, InboxPrefix: "_PROD_INBOX", TLSFirst: true}
		if cfg.NATSURLs != "nats://a:4222,nats://b:4222" || cfg.NATSClient != want {
			t.Fatalf("%s: %q %+v", arg, cfg.NATSURLs, cfg.NATSClient)
		}
	}
	cfg, err := serveConfig(t, "worker", []string{"--nats-context", "prod", "--nats", "nats://c:4222", "--nats-creds", creds,
		"--nats-inbox-prefix", "_MINE"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := app.NATSClient{CredsFile: creds, CAFile: ca, InboxPrefix: "_MINE", TLSFirst: true}
	if cfg.NATSURLs != "nats://c:4222" || cfg.NATSClient != want {
		t.Fatalf("flags over the context: %q %+v", cfg.NATSURLs, cfg.NATSClient)
	}
	cfg, err = serveConfig(t, "worker", []string{"--nats-context", "prod"}, map[string]string{"HOOKD_NATS_PASSWORD": "from-env"})
	if err != nil || cfg.NATSClient.User != "hookd" || cfg.NATSClient.Password != "from-env" {
		t.Fatalf("password over the context's: %+v, %v", cfg.NATSClient, err)
	}

	for _, c := range []struct{ content, arg, want string }{
		{`{"url":"nats://a:4222","jetstream_domain":"hub"}`, "", "hookd does not support jetstream_domain"},
		{`{"url":"nats://a:4222","creds":"` + filepath.Join(dir, "none.creds") + `"}`, "", "creds: stat"},
		{`{"url":`, "", "unexpected end of JSON"},
		{"", "nosuch", `no context "nosuch"`},
		{"", "../prod", "no such file"},
		{"", "a b", `"a b" is not a context name`},
	} {
		arg := c.arg
		if arg == "" {
			arg = writeIn(t, t.TempDir(), "ctx.json", c.content)
		}
		_, err := serveConfig(t, "worker", []string{"--nats-context", arg}, nil)
		if err == nil || !strings.Contains(err.Error(), "--nats-context") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: %v, want --nats-context and %q", arg, c.content, err, c.want)
		}
	}
}

// Mistakes with the NATS flags name the flag (or variable).
func TestNATSFlagErrors(t *testing.T) {
	dir := t.TempDir()
	badProducers := writeIn(t, dir, "producers.json", `{"producers":[{"name":"ci","user":"ci"}]}`)
	pem := writeIn(t, dir, "x.pem", "x")
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"worker", "--nats", "nats://127.0.0.1:4222", "--nats-creds", filepath.Join(dir, "none.creds")}, nil, "--nats-creds: open"},
		{[]string{"worker", "--nats", "nats://127.0.0.1:4222", "--nats-nkey", filepath.Join(dir, "none.nk")}, nil, "--nats-nkey: open"},
		{[]string{"worker", "--nats", "nats://127.0.0.1:4222", "--nats-internal-key-file", filepath.Join(dir, "none.nk")}, nil, "--nats-internal-key-file: open"},
		{[]string{"worker", "--nats", "nats://127.0.0.1:4222", "--nats-internal-key-file", pem, "--nats-token", "t"}, nil, "--nats-internal-key-file is the identity"},
		{[]string{"worker", "--nats", "nats://127.0.0.1:4222", "--nats-token", "t", "--nats-user", "u"}, nil, "give one credential"},
		{[]string{"worker", "--nats", "nats://127.0.0.1:4222", "--nats-cert", pem}, nil, "needs its key"},
		{[]string{"worker", "--nats", "nats://127.0.0.1:4222", "--nats-producers", badProducers}, nil, "--nats-producers configures the embedded server"},
		{[]string{"worker", "--nats", "nats://127.0.0.1:4222"}, map[string]string{"HOOKD_NATS_LISTEN_CERT": pem}, "--nats-listen-cert configures"},
		{[]string{"serve", "--nats-creds", pem}, nil, "--nats-creds is for connecting to an existing NATS"},
		{[]string{"serve", "--nats-producers", badProducers}, nil, `--nats-producers: ` + badProducers + `: producers[0] ("ci"): password: required`},
		{[]string{"serve", "--nats-producers", filepath.Join(dir, "none.json")}, nil, "--nats-producers: open"},
		{[]string{"serve", "--nats-listen-cert", pem}, nil, "--nats-listen-cert and --nats-listen-key go together"},
		{[]string{"serve", "--nats-listen-cert", pem, "--nats-listen-key", filepath.Join(dir, "none.pem")}, nil, "--nats-listen-key: open"},
		{[]string{"serve", "--cluster-user", "route"}, nil, "--cluster-user secures the cluster routes: it needs --cluster-name"},
		{[]string{"serve", "--cluster-name", "c", "--cluster", "127.0.0.1:6222", "--routes", "nats://a:6222", "--server-name", "n1",
			"--cluster-user", "route"}, nil, "--cluster-user and --cluster-password go together"},
		{[]string{"serve", "--cluster-name", "c", "--cluster", "127.0.0.1:6222", "--routes", "nats://a:6222", "--server-name", "n1",
			"--cluster-cert", pem}, nil, "--cluster-cert, --cluster-key and --cluster-ca go together"},
		{[]string{"serve"}, map[string]string{"HOOKD_NATS_INTERNAL_KEY": "SUnot-a-seed"}, "HOOKD_NATS_INTERNAL_KEY is not an nkey user seed"},
	} {
		var out, errOut bytes.Buffer
		if code := Main(c.args, &out, &errOut, env(c.env)); code != 2 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%v %v: exit %d %q, want 2 and %q", c.args, c.env, code, errOut.String(), c.want)
		}
	}
}

// serve with the NATS security flags: the internal key is created in the
// data directory (0600); the client port uses TLS; a token producer from
// --nats-producers publishes; anonymous producers are refused; a worker
// process on --nats signs in with the internal key file and delivers.
func TestServeWithNATSSecurityFlags(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	ca := testcerts.NewCA(t, "hookd")
	cert, key := ca.Issue(t, "nats")
	producers := writeIn(t, dir, "producers.json", `{"producers":[{"name":"ci","token":"ci-token-0123"}]}`)
	rc := hookdtest.NewReceiver(t)
	addrs := freeAddrs(t, 2)
	var logs bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 2)
	go func() {
		done <- runServe(ctx, "serve", []string{"--data", data, "--http", addrs[0], "--nats-listen", addrs[1]},
			&syncWriter{w: &logs}, &syncWriter{w: &logs}, env(map[string]string{"HOOKD_ADMIN_KEY": hookdtest.AdminKey,
				"HOOKD_NATS_PRODUCERS": producers, "HOOKD_NATS_NO_ANONYMOUS": "true", "HOOKD_NATS_LISTEN_CERT": cert,
				"HOOKD_NATS_LISTEN_KEY": key, "HOOKD_ALLOW_NETS": "127.0.0.0/8"}))
	}()
	hookdtest.WaitFor(t, 20*time.Second, "serve to start", func() bool { return strings.Contains(logsString(&logs), "hookd started") })
	keyFile := filepath.Join(data, app.InternalKeyFileName)
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("internal key file: %v, %v", fi, err)
	}
	url := "nats://" + addrs[1]
	if _, err := nats.Connect(url, nats.RootCAs(ca.File)); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("anonymous producer: %v, want refused", err)
	}
	if _, err := nats.Connect(url, nats.Token("ci-token-0123")); err == nil {
		t.Fatal("connected without trusting the server's certificate: no TLS")
	}
	go func() {
		done <- runServe(ctx, "worker", []string{"--nats", url, "--nats-internal-key-file", keyFile, "--nats-ca", ca.File},
			io.Discard, &syncWriter{w: &logs}, env(map[string]string{"HOOKD_ALLOW_NETS": "127.0.0.0/8"}))
	}()
	hookdtest.WaitFor(t, 20*time.Second, "worker to start", func() bool {
		return regexp.MustCompile(`hookd started.*role=worker`).MatchString(logsString(&logs))
	})

	h := &hookdtest.Hookd{URL: "http://" + addrs[0]}
	if status, out := h.Do(t, "POST", "/v1/endpoints", map[string]any{"url": rc.URL}); status != 201 {
		t.Fatalf("create endpoint: %d %s", status, out)
	}
	nc, err := nats.Connect(url, nats.RootCAs(ca.File), nats.Token("ci-token-0123"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := js.Publish(t.Context(), "events.build.done", []byte(`{"ok":true}`)); err != nil {
		t.Fatalf("token producer over TLS: %v", err)
	}
	hookdtest.WaitFor(t, 20*time.Second, "delivery", func() bool { return rc.Count() == 1 })
	cancel()
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// freeAddrs returns n 127.0.0.1 addresses free right now.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, ln.Addr().String())
		defer ln.Close()
	}
	return addrs
}
