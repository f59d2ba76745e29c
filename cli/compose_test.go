package cli

// compose.yaml cannot be run here (no Docker engine), so these tests read it
// and check it against what the binaries really accept: every hookd command is
// parsed by a FlagSet built as runServe builds it, and every nats-server
// command by nats-server's own server.ConfigureOptions. The file is read with
// a small, strict parser for the YAML subset it uses (block mappings and
// sequences, flow sequences, plain and quoted scalars, comments); anything
// outside that subset is an error rather than a guess, so the file cannot
// drift into YAML that this test would misread.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/hookd/hookd/app"
)

const composePath = "../compose.yaml"

// composeWant is the layout the project's issue asks for.
var composeWant = struct {
	natsNodes int
	replicas  map[string]int // hookd service (= role) -> deploy.replicas
}{
	natsNodes: 3,
	replicas:  map[string]int{"api": 1, "router": 2, "worker": 3},
}

func TestComposeFile(t *testing.T) {
	src, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range checkCompose(string(src), os.ReadFile) {
		t.Error(err)
	}
}

// TestComposeCheckCatchesMistakes breaks compose.yaml in memory in ways the
// check must notice, so a check that quietly stops checking fails here.
func TestComposeCheckCatchesMistakes(t *testing.T) {
	b, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	for _, c := range []struct{ name, old, new, want string }{
		// In deploy/nats.conf rather than compose.yaml: cases whose name starts with "nats.conf: ".
		{"nats.conf: anonymous JetStream API", `allow: ["events.>", "tenants.*.events.>"]`, `allow: ["events.>", "tenants.*.events.>", "$JS.API.>"]`, `clients without credentials may publish to "$JS.API.INFO"`},
		{"nats.conf: anonymous hookd.* events", `deny: ["events.hookd.>", "tenants.*.events.hookd.>"]`, `deny: []`, `clients without credentials may publish to "events.hookd.endpoint.disabled"`},
		{"nats.conf: anonymous subscribe to everything", `subscribe: ["_INBOX.>"]`, `subscribe: [">"]`, `clients without credentials may subscribe to "_HOOKD_INBOX.x"`},
		{"nats.conf: no producers without credentials", "no_auth_user: producer\n", "", "refuses clients without credentials"},
		{"route without credentials", `"--name", "nats2", "-js", "-sd", "/data", "-m", "8222",
              "--cluster_name", "hookd", "--cluster", "nats://route:${NATS_ROUTE_PASSWORD:?set it in .env}@0.0.0.0:6222"`, `"--name", "nats2", "-js", "-sd", "/data", "-m", "8222",
              "--cluster_name", "hookd", "--cluster", "nats://0.0.0.0:6222"`, "nats2: routes are not authenticated"},
		{"route password with a default", "--cluster\", \"nats://route:${NATS_ROUTE_PASSWORD:?set it in .env}@", "--cluster\", \"nats://route:${NATS_ROUTE_PASSWORD:-changeme}@", "NATS_ROUTE_PASSWORD has a default"},
		{"hookd password with a default", `HOOKD_NATS_PASSWORD: "${HOOKD_NATS_PASSWORD:?set it in .env}"`, `HOOKD_NATS_PASSWORD: "${HOOKD_NATS_PASSWORD:-changeme}"`, "HOOKD_NATS_PASSWORD has a default"},
		{"config not mounted", "      - nats1-data:/data\n      - ./deploy/nats.conf:/etc/nats/hookd.conf:ro\n", "      - nats1-data:/data\n", "nats1: -c /etc/nats/hookd.conf is not a mounted file"},
		{"hookd without NATS credentials", "HOOKD_ADMIN_KEY: \"${HOOKD_ADMIN_KEY:-}\"\n      HOOKD_NATS_USER: hookd\n      HOOKD_NATS_PASSWORD: \"${HOOKD_NATS_PASSWORD:?set it in .env}\"\n", "HOOKD_ADMIN_KEY: \"${HOOKD_ADMIN_KEY:-}\"\n", "api: connects to NATS without credentials"},
		{"nats.conf: hookd without the JetStream API", `publish: ["events.>", "tenants.*.events.>", "hookd.>", "$JS.API.>",`, `publish: ["events.>", "tenants.*.events.>", "hookd.>",`, `api: NATS user "hookd" may not publish to "$JS.API.STREAM.INFO.HOOKD_EVENTS" on nats1`},
		{"hookd as an unknown user", "HOOKD_ADMIN_KEY: \"${HOOKD_ADMIN_KEY:-}\"\n      HOOKD_NATS_USER: hookd", "HOOKD_ADMIN_KEY: \"${HOOKD_ADMIN_KEY:-}\"\n      HOOKD_NATS_USER: other", `api: NATS user "other" is no user of nats1`},
		{"misspelled hookd flag", `"--replicas", "3"]`, `"--replica", "3"]`, "flag provided but not defined: -replica"},
		{"bad flag value", `"--replicas", "3"]`, `"--replicas", "three"]`, `invalid value "three"`},
		{"replicas the binary refuses", `"--replicas", "3"]`, `"--replicas", "2"]`, "--replicas must be 1, 3 or 5"},
		{"unknown role", `["router", `, `["routers", `, `role "routers"`},
		{"flag the role ignores", `["worker", "--nats"`, `["worker", "--http", ":80", "--nats"`, "ignores --http"},
		{"stray argument", `["worker", "--nats"`, `["worker", "extra", "--nats"`, `unexpected argument "extra"`},
		{"environment variable of no flag", `HOOKD_ADMIN_KEY: "`, `HOOKD_REPLICA: "3"` + "\n      HOOKD_ADMIN_KEY: \"", "HOOKD_REPLICA is not"},
		{"short admin key", `"${HOOKD_ADMIN_KEY:-}"`, `"${HOOKD_ADMIN_KEY:-short}"`, "at least 16 characters"},
		{"--nats misses a node", "nats://nats1:4222,nats://nats2:4222,nats://nats3:4222\", \"--replicas\", \"3\"]\n    deploy:\n      replicas: 3", "nats://nats1:4222,nats://nats2:4222\", \"--replicas\", \"3\"]\n    deploy:\n      replicas: 3", "misses nats3"},
		{"--nats on the cluster port", "nats://nats3:4222\", \"--replicas\", \"3\"]\n    deploy:\n      replicas: 2", "nats://nats3:6222\", \"--replicas\", \"3\"]\n    deploy:\n      replicas: 2", "nats3:6222"},
		{"router replicas", "deploy:\n      replicas: 2", "deploy:\n      replicas: 1", "router: deploy.replicas is 1, want 2"},
		{"missing service", "\n  worker:\n", "\n  workers:\n", `no service "worker"`},
		{"not waiting for a healthy node", "nats3:\n        condition: service_healthy\n\n  router:", "nats3:\n        condition: service_started\n\n  router:", "on nats3 being service_healthy"},
		{"api port not published", `"127.0.0.1:8080:8080"`, `"127.0.0.1:8080:9090"`, "publishes no container port 8080"},
		{"misspelled nats-server flag", `"--cluster_name", "hookd"`, `"--clustername", "hookd"`, "flag provided but not defined: -clustername"},
		{"second cluster", `"--name", "nats3", "-js", "-sd", "/data", "-m", "8222",
              "--cluster_name", "hookd"`, `"--name", "nats3", "-js", "-sd", "/data", "-m", "8222",
              "--cluster_name", "other"`, "cluster name"},
		{"route to a node missing", `,nats://route:${NATS_ROUTE_PASSWORD:?set it in .env}@nats3:6222"]
    environment:
      HOOKD_NATS_PASSWORD: "${HOOKD_NATS_PASSWORD:?set it in .env}"
    volumes:
      - nats3-data`, `"]
    environment:
      HOOKD_NATS_PASSWORD: "${HOOKD_NATS_PASSWORD:?set it in .env}"
    volumes:
      - nats3-data`, "routes miss nats3"},
		{"JetStream off", `"--name", "nats2", "-js", `, `"--name", "nats2", `, "nats2: JetStream is not enabled"},
		{"store outside the volume", `"--name", "nats1", "-js", "-sd", "/data"`, `"--name", "nats1", "-js", "-sd", "/tmp"`, "store directory /tmp"},
		{"shared volume", "- nats2-data:/data", "- nats1-data:/data", "volume nats1-data"},
		{"image without wget", "image: nats:2.15-alpine\n    command: [\"-c\", \"/etc/nats/hookd.conf\", \"--name\", \"nats2\"", "image: nats:2.15\n    command: [\"-c\", \"/etc/nats/hookd.conf\", \"--name\", \"nats2\"", "alpine"},
		{"health check on the wrong port", "http://127.0.0.1:8222/healthz?js-meta-only=true\"]\n      interval: 5s\n      timeout: 3s\n      retries: 20\n      start_period: 10s\n\n  api:", "http://127.0.0.1:8223/healthz?js-meta-only=true\"]\n      interval: 5s\n      timeout: 3s\n      retries: 20\n      start_period: 10s\n\n  api:", "port 8223"},
		{"hookd health check with wget", `["CMD", "/hookd", "healthcheck", "--timeout"`, `["CMD", "wget", "-q", "--timeout"`, `want ["CMD", "/hookd", "healthcheck", URL]`},
		{"hookd health check on a port nothing serves", `"3s", "http://127.0.0.1:9090/readyz"`, `"3s", "http://127.0.0.1:9091/readyz"`, "api: healthcheck URL http://127.0.0.1:9091/readyz is on port 9091"},
		{"hookd health check without a listener", "      HOOKD_METRICS_LISTEN: \"0.0.0.0:9090\"\n    healthcheck:", "    healthcheck:", "where hookd router does not listen"},
		{"hookd health check on liveness", `/hookd", "healthcheck", "--timeout", "3s", "http://127.0.0.1:9090/readyz"`, `/hookd", "healthcheck", "--timeout", "3s", "http://127.0.0.1:9090/healthz"`, "want /readyz"},
		{"hookd health check flag", `"healthcheck", "--timeout", "3s"`, `"healthcheck", "--timeout", "soon"`, "invalid value"},
		{"YAML outside the subset", "    deploy:\n      replicas: 2", "    deploy: { replicas: 2 }", "flow mappings"},
		{"tab indentation", "\n    build: .", "\n\tbuild: .", "tab"},
		{"duplicate key", "\n    restart: on-failure\n", "\n    restart: on-failure\n    restart: always\n", `duplicate key "restart"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			file, read := "compose.yaml", os.ReadFile
			if strings.HasPrefix(c.name, "nats.conf: ") {
				file = natsConfPath
				read = func(path string) ([]byte, error) {
					b, err := os.ReadFile(path)
					if filepath.Clean(path) == filepath.Clean(natsConfPath) {
						if !strings.Contains(string(b), c.old) {
							t.Fatalf("%s no longer contains %q: update this case", natsConfPath, c.old)
						}
						b = []byte(strings.Replace(string(b), c.old, c.new, 1))
					}
					return b, err
				}
			} else if !strings.Contains(src, c.old) {
				t.Fatalf("%s no longer contains %q: update this case", file, c.old)
			}
			broken := src
			if file == "compose.yaml" {
				broken = strings.Replace(src, c.old, c.new, 1)
			}
			errs := checkCompose(broken, read)
			for _, err := range errs {
				if strings.Contains(err.Error(), c.want) {
					return
				}
			}
			t.Fatalf("no error mentions %q; got %v", c.want, errs)
		})
	}
}

// A node without any authorization, which no edit of one line of
// deploy/nats.conf can produce, is caught too.
func TestComposeCheckCatchesOpenNATS(t *testing.T) {
	var errs []string
	checkNATSAuth("nats1", &server.Options{}, func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) })
	if len(errs) != 1 || !strings.Contains(errs[0], "nats1: no authorization") {
		t.Fatalf("errors %q", errs)
	}
}

// Producers in hookd's account are caught.
func TestComposeCheckCatchesSharedAccount(t *testing.T) {
	var errs []string
	o := &server.Options{NoAuthUser: "producer", Users: []*server.User{{Username: "hookd", Password: "x"}, {Username: "producer"}}}
	checkOwnAccount("api", "nats1", o, o.Users[0], func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) })
	if len(errs) != 1 || !strings.Contains(errs[0], `api: NATS user "hookd" shares account $G with clients without credentials on nats1`) {
		t.Fatalf("errors %q", errs)
	}
	o.Users[1].Account = server.NewAccount("PRODUCERS")
	errs = nil
	checkOwnAccount("api", "nats1", o, o.Users[0], func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) })
	if len(errs) != 0 {
		t.Fatalf("separate accounts: %q", errs)
	}
}

// natsConfPath is the nats-server configuration compose.yaml mounts.
const natsConfPath = "../deploy/nats.conf"

// checkCompose returns every way the compose file src departs from the
// layout the binaries accept; readFile reads the files it mounts (by path
// from this package's directory).
func checkCompose(src string, readFile func(string) ([]byte, error)) []error {
	root, err := parseYAMLSubset(src)
	if err != nil {
		return []error{err}
	}
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	services := root.get("services")
	if services == nil || services.kind != yMap {
		return []error{errors.New("compose.yaml: no services mapping")}
	}
	volumes := root.get("volumes")

	// Classify: NATS nodes by image, hookd services by building this repository.
	var natsNames, hookdNames []string
	for _, name := range services.keys {
		svc := services.fields[name]
		image, _ := svc.get("image").scalar()
		build, _ := svc.get("build").scalar()
		switch {
		case strings.HasPrefix(image, "nats:"):
			natsNames = append(natsNames, name)
		case build == ".":
			hookdNames = append(hookdNames, name)
		}
	}

	// The NATS cluster.
	if len(natsNames) != composeWant.natsNodes {
		fail("compose.yaml: %d NATS services %v, want %d", len(natsNames), natsNames, composeWant.natsNodes)
	}
	nodes := map[string]*server.Options{}
	volumeOwners := map[string][]string{}
	for _, name := range natsNames {
		opts, volume := checkNATSService(name, services.fields[name], volumes, readFile, fail)
		if opts != nil {
			nodes[name] = opts
		}
		if volume != "" {
			volumeOwners[volume] = append(volumeOwners[volume], name)
		}
	}
	for vol, owners := range volumeOwners {
		if len(owners) > 1 {
			fail("NATS nodes %v share volume %s", owners, vol)
		}
	}
	checkNATSCluster(nodes, fail)

	// The hookd services.
	for role := range composeWant.replicas {
		if !slices.Contains(hookdNames, role) {
			fail("compose.yaml: no service %q (built from . and running hookd %s)", role, role)
		}
	}
	for _, name := range hookdNames {
		checkHookdService(name, services.fields[name], natsNames, nodes, fail)
	}
	return errs
}

// checkNATSService returns the node's options and the volume it stores in.
func checkNATSService(name string, svc, volumes *yNode, readFile func(string) ([]byte, error), fail func(string, ...any)) (*server.Options, string) {
	image, _ := svc.get("image").scalar()
	// The health check runs wget inside the container: only the alpine
	// variant has it (the plain tag is built FROM scratch).
	if !regexp.MustCompile(`^nats:2\.\d+(\.\d+)?-alpine(3\.\d+)?$`).MatchString(image) {
		fail("%s: image %q: want a pinned nats:2.x alpine tag like nats:2.15-alpine (the scratch images have no wget for the health check)", name, image)
	}
	args, err := svc.get("command").strings()
	if err != nil {
		fail("%s: command: %v", name, err)
		return nil, ""
	}
	if len(args) > 0 && args[0] == "nats-server" {
		args = args[1:]
	} else if len(args) == 0 || !strings.HasPrefix(args[0], "-") {
		// The image's docker-entrypoint.sh prepends nats-server only when
		// the first argument is a flag.
		fail("%s: command must be nats-server flags (or start with nats-server), not %q", name, args)
		return nil, ""
	}
	for i, a := range args {
		if args[i], err = composeInterpolate(a); err != nil {
			fail("%s: command: %v", name, err)
			return nil, ""
		}
	}
	env := map[string]string{}
	if _, err := svc.get("environment").envVars(env); err != nil {
		fail("%s: environment: %v", name, err)
	}
	conf, err := mountedConfig(svc, args, readFile)
	if err != nil {
		fail("%s: %v", name, err)
		return nil, ""
	}
	if conf != "" {
		defer os.Remove(conf)
	}
	opts, err := natsServerOptions(args, conf, env)
	if err != nil {
		fail("%s: nats-server %s: %v", name, strings.Join(args, " "), err)
		return nil, ""
	}
	checkNATSAuth(name, opts, fail)
	if !opts.JetStream {
		fail("%s: JetStream is not enabled (-js)", name)
	}
	if opts.ServerName != name {
		fail("%s: server name %q, want the service name (a JetStream cluster needs unique names)", name, opts.ServerName)
	}

	// The store directory is a named volume of this node alone.
	mounts, err := svc.get("volumes").strings()
	if err != nil {
		fail("%s: volumes: %v", name, err)
	}
	var storeVolume string
	for _, m := range mounts {
		vol, target, ok := strings.Cut(m, ":")
		target, _, _ = strings.Cut(target, ":")
		if ok && target == opts.StoreDir {
			storeVolume = vol
		}
	}
	switch {
	case storeVolume == "":
		fail("%s: store directory %s (-sd) is not a mounted volume", name, opts.StoreDir)
	case volumes.get(storeVolume) == nil:
		fail("%s: volume %s is not declared under the top-level volumes", name, storeVolume)
	}

	// The health check asks this node's monitoring port whether it has a
	// JetStream meta leader, with a tool the image has.
	test, err := svc.get("healthcheck", "test").strings()
	if err != nil || len(test) < 3 || test[0] != "CMD" || (test[1] != "wget" && test[1] != "curl") {
		fail("%s: healthcheck.test %q: want [\"CMD\", \"wget\", ...]", name, test)
	} else {
		u, err := url.Parse(test[len(test)-1])
		switch {
		case err != nil:
			fail("%s: healthcheck URL: %v", name, err)
		case u.Path != "/healthz":
			fail("%s: healthcheck URL %s: want /healthz", name, u)
		case u.Port() != strconv.Itoa(opts.HTTPPort):
			fail("%s: healthcheck URL %s is on port %s, but monitoring (-m) listens on %d", name, u, u.Port(), opts.HTTPPort)
		}
	}
	return opts, storeVolume
}

// mountedConfig finds the file that -c names among the service's mounted
// files and copies it (as readFile reads it) to a temporary file, whose
// path it returns; "" without -c.
func mountedConfig(svc *yNode, args []string, readFile func(string) ([]byte, error)) (string, error) {
	i := slices.IndexFunc(args, func(a string) bool { return a == "-c" || a == "--config" })
	if i < 0 {
		return "", nil
	}
	if i+1 >= len(args) {
		return "", errors.New("-c without a file")
	}
	target := args[i+1]
	mounts, _ := svc.get("volumes").strings()
	for _, m := range mounts {
		parts := strings.Split(m, ":")
		if len(parts) < 2 || parts[1] != target || !strings.HasPrefix(parts[0], "./") {
			continue
		}
		b, err := readFile(filepath.Join(filepath.Dir(composePath), parts[0]))
		if err != nil {
			return "", fmt.Errorf("-c %s: %v", target, err)
		}
		f, err := os.CreateTemp("", "nats-*.conf")
		if err != nil {
			return "", err
		}
		defer f.Close()
		if _, err := f.Write(b); err != nil {
			return "", err
		}
		return f.Name(), nil
	}
	return "", fmt.Errorf("-c %s is not a mounted file of this repository", target)
}

// checkNATSAuth checks that a node lets clients without credentials (the
// README's producers) publish events and nothing else: not hookd's own
// event types, not the JetStream API or key-value buckets, not listening
// to hookd; and that every other user has a password.
func checkNATSAuth(name string, o *server.Options, fail func(string, ...any)) {
	if len(o.Users) == 0 && len(o.Nkeys) == 0 && o.Username == "" && o.Authorization == "" && len(o.TrustedOperators) == 0 {
		fail("%s: no authorization: any client has full control of hookd's streams", name)
		return
	}
	if o.NoAuthUser == "" {
		fail("%s: refuses clients without credentials, so the producers' `nats pub events.<type>` fails: make no_auth_user a user that may only publish events", name)
		return
	}
	var anon *server.User
	for _, u := range o.Users {
		switch {
		case u.Username == o.NoAuthUser:
			anon = u
		case u.Password == "":
			fail("%s: user %q has no password", name, u.Username)
		}
	}
	if anon == nil {
		fail("%s: no_auth_user %q is no user", name, o.NoAuthUser)
		return
	}
	var pub, sub *server.SubjectPermission
	if anon.Permissions != nil {
		pub, sub = anon.Permissions.Publish, anon.Permissions.Subscribe
	}
	for _, subj := range []string{"events.order.paid", "tenants.acme.events.order.paid"} {
		if !permits(pub, subj) {
			fail("%s: clients without credentials may not publish to %q", name, subj)
		}
	}
	for _, subj := range []string{"$JS.API.INFO", "$JS.API.STREAM.PURGE.HOOKD_EVENTS", "$KV.hookd_keys.key_x", "events.hookd.endpoint.disabled",
		"tenants.acme.events.hookd.delivery.exhausted", "hookd.deliver.ep_x"} {
		if permits(pub, subj) {
			fail("%s: clients without credentials may publish to %q", name, subj)
		}
	}
	if !permits(sub, "_INBOX.x") {
		fail("%s: clients without credentials may not subscribe to \"_INBOX.x\": no JetStream acknowledgement reaches them", name)
	}
	for _, subj := range []string{"_HOOKD_INBOX.x", "hookd.deliver.ep_x", "events.order.paid", ">"} {
		if permits(sub, subj) {
			fail("%s: clients without credentials may subscribe to %q", name, subj)
		}
	}
}

// permits reports whether p lets a client use subject (a literal subject,
// or a subscription's wildcard taken as written).
func permits(p *server.SubjectPermission, subject string) bool {
	if p == nil {
		return true
	}
	return (p.Allow == nil || slices.ContainsFunc(p.Allow, func(f string) bool { return subjectMatches(f, subject) })) &&
		!slices.ContainsFunc(p.Deny, func(f string) bool { return subjectMatches(f, subject) })
}

// subjectMatches reports whether the filter (with * and >) matches subject.
func subjectMatches(filter, subject string) bool {
	ft, st := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, f := range ft {
		switch {
		case f == ">":
			return len(st) > i
		case i >= len(st):
			return false
		case f != "*" && f != st[i]:
			return false
		}
	}
	return len(ft) == len(st)
}

// natsServerOptions parses args as the nats-server binary does, with the
// configuration file (-c) at conf and the container's environment env,
// which the file's $VARIABLES read.
func natsServerOptions(args []string, conf string, env map[string]string) (*server.Options, error) {
	defer func(s *server.Options) { server.FlagSnapshot = s }(server.FlagSnapshot)
	args = slices.Clone(args)
	if i := slices.IndexFunc(args, func(a string) bool { return a == "-c" || a == "--config" }); i >= 0 && conf != "" {
		args[i+1] = conf
	}
	// nats-server reads the variables from the process environment. The
	// tests of this package that run in parallel start after this
	// sequential one, so nothing else reads it meanwhile.
	for k, v := range env {
		old, had := os.LookupEnv(k)
		os.Setenv(k, v)
		defer func() {
			if had {
				os.Setenv(k, old)
			} else {
				os.Unsetenv(k)
			}
		}()
	}
	fs := flag.NewFlagSet("nats-server", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	noop := func() {}
	opts, err := server.ConfigureOptions(fs, args, noop, noop, noop)
	if err != nil {
		return nil, err
	}
	if opts == nil {
		return nil, errors.New("the arguments only ask for help or the version")
	}
	s, err := server.NewServer(opts) // validates, starts nothing
	if err != nil {
		return nil, err
	}
	s.Shutdown()
	return opts, nil
}

// checkNATSCluster checks that the nodes form one cluster: one name, and
// every node routes to every node.
func checkNATSCluster(nodes map[string]*server.Options, fail func(string, ...any)) {
	names := slices.Sorted(maps.Keys(nodes))
	var clusterName string
	for _, name := range names {
		o := nodes[name]
		if o.Cluster.Name == "" || (clusterName != "" && o.Cluster.Name != clusterName) {
			fail("%s: cluster name %q (--cluster_name), want one shared name", name, o.Cluster.Name)
		}
		if clusterName == "" {
			clusterName = o.Cluster.Name
		}
		if o.Cluster.Port <= 0 {
			fail("%s: no cluster listener (--cluster)", name)
		}
		if o.Cluster.Username == "" {
			fail("%s: routes are not authenticated (--cluster nats://user:password@...): whoever reaches the cluster port joins", name)
		}
		for _, r := range o.Routes {
			pw, _ := r.User.Password()
			if r.User == nil || r.User.Username() != o.Cluster.Username || pw != o.Cluster.Password {
				fail("%s: the route to %s does not carry the cluster's user and password", name, r.Host)
			}
		}
		routes := map[string]bool{}
		for _, r := range o.Routes {
			routes[r.Host] = true
		}
		for _, peer := range names {
			want := net.JoinHostPort(peer, strconv.Itoa(nodes[peer].Cluster.Port))
			if !routes[want] {
				fail("%s: routes miss %s (nats://%s)", name, peer, want)
			}
			delete(routes, want)
		}
		for r := range routes {
			fail("%s: route to %s, which is no NATS node of this file", name, r)
		}
	}
}

func checkHookdService(name string, svc *yNode, natsNames []string, nodes map[string]*server.Options, fail func(string, ...any)) {
	cmd, err := svc.get("command").strings()
	if err != nil || len(cmd) == 0 {
		fail("%s: command: want [role, flags...] (%v)", name, err)
		return
	}
	for _, a := range cmd {
		if strings.Contains(a, "$") {
			fail("%s: command argument %q: compose would interpolate it; put variables in environment", name, a)
		}
	}
	role, args := cmd[0], cmd[1:]
	if role != "serve" && role != "api" && role != "router" && role != "worker" {
		fail("%s: role %q: want api, router, worker or serve", name, role)
		return
	}
	if _, ok := composeWant.replicas[name]; ok && role != name {
		fail("%s: runs hookd %s, want hookd %s", name, role, name)
	}

	// The service's environment, interpolated as compose does when the
	// shell sets nothing.
	vars := map[string]string{}
	envNode := svc.get("environment")
	envKeys, err := envNode.envVars(vars)
	if err != nil {
		fail("%s: environment: %v", name, err)
	}

	// What runServe does before app.New: the same FlagSet, Parse, the
	// argument check, applyEnv, config and adminKey.
	fs := flag.NewFlagSet("hookd "+role, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var f serveFlags
	f.register(fs)
	if err := fs.Parse(args); err != nil {
		fail("%s: hookd %s: %v", name, strings.Join(cmd, " "), err)
		return
	}
	if fs.NArg() > 0 {
		fail("%s: hookd %s: unexpected argument %q", name, role, fs.Arg(0))
		return
	}
	getenv := func(k string) string { return vars[k] }
	if err := applyEnv(fs, getenv); err != nil {
		fail("%s: %v", name, err)
		return
	}
	cfg, err := f.config(role, io.Discard)
	if err != nil {
		fail("%s: hookd %s: %v", name, role, err)
	}
	checkHookdNATSUser(name, cfg.NATSClient, nodes, fail)
	if _, err := f.adminKey(getenv); err != nil {
		fail("%s: %v", name, err)
	}

	// Environment variables hookd reads: one per flag, HOOKD_ADMIN_KEY and
	// HOOKD_NATS_INTERNAL_KEY. applyEnv ignores any other, so a misspelt one
	// would be silently lost.
	flagEnv := map[string]bool{"HOOKD_ADMIN_KEY": true, "HOOKD_NATS_INTERNAL_KEY": true}
	fs.VisitAll(func(fl *flag.Flag) { flagEnv[envName(fl.Name)] = true })
	for _, k := range envKeys {
		if strings.HasPrefix(k, "HOOKD_") && !flagEnv[k] {
			fail("%s: environment %s is not a variable hookd reads", name, k)
		}
	}

	// Flags the role accepts but does not use.
	given := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	if given["http"] && role != "api" && role != "serve" {
		fail("%s: hookd %s ignores --http (only api and serve listen)", name, role)
	}
	for _, embeddedOnly := range []string{"data", "nats-listen", "sync", "server-name", "cluster-name", "cluster", "routes"} {
		if given[embeddedOnly] && f.natsURLs != "" { // (names not registered are never given)
			fail("%s: --%s is for the embedded server, which --nats turns off", name, embeddedOnly)
		}
	}

	// --nats lists every NATS node, each on its client port.
	if role != "serve" || f.natsURLs != "" {
		seen := map[string]bool{}
		for _, raw := range strings.Split(f.natsURLs, ",") {
			u, err := url.Parse(strings.TrimSpace(raw))
			if err != nil || u.Scheme != "nats" {
				fail("%s: --nats URL %q: want nats://host:port", name, raw)
				continue
			}
			if !slices.Contains(natsNames, u.Hostname()) {
				fail("%s: --nats URL %s: %s is no NATS service of this file", name, raw, u.Hostname())
				continue
			}
			seen[u.Hostname()] = true
			node := nodes[u.Hostname()]
			if node == nil {
				continue // its command failed, reported above
			}
			port := node.Port
			if port == 0 {
				port = server.DEFAULT_PORT
			}
			if u.Port() != strconv.Itoa(port) {
				fail("%s: --nats URL %s: %s:%s, but %s takes clients on %d", name, raw, u.Hostname(), u.Port(), u.Hostname(), port)
			}
		}
		for _, n := range natsNames {
			if !seen[n] {
				fail("%s: --nats misses %s", name, n)
			}
		}
		if f.replicas != len(natsNames) {
			fail("%s: --replicas %d on a cluster of %d nodes", name, f.replicas, len(natsNames))
		}
	}

	// How many of it, and only once NATS is healthy.
	replicas := 1
	if r := svc.get("deploy", "replicas"); r != nil {
		s, _ := r.scalar()
		if replicas, err = strconv.Atoi(s); err != nil {
			fail("%s: deploy.replicas %q", name, s)
		}
	}
	if want, ok := composeWant.replicas[name]; ok && replicas != want {
		fail("%s: deploy.replicas is %d, want %d", name, replicas, want)
	}
	for _, n := range natsNames {
		if c, _ := svc.get("depends_on", n, "condition").scalar(); c != "service_healthy" {
			fail("%s: depends_on must wait on %s being service_healthy", name, n)
		}
	}

	// The health check is hookd's own /readyz, asked by the hookd binary
	// (the image is distroless: no shell, wget or curl), on a port this
	// service listens on without a key: --metrics-listen (or the API's).
	checkHookdHealthcheck(name, role, svc, f, fail)

	// The API's listen port is published.
	if role == "api" || role == "serve" {
		_, port, err := net.SplitHostPort(f.httpAddr)
		if err != nil {
			fail("%s: --http %q: %v", name, f.httpAddr, err)
		}
		ports, _ := svc.get("ports").strings()
		published := false
		for _, p := range ports {
			p, _, _ = strings.Cut(p, "/")
			if p[strings.LastIndex(p, ":")+1:] == port {
				published = true
			}
		}
		if !published {
			fail("%s: publishes no container port %s, where --http %s listens", name, port, f.httpAddr)
		}
		if strings.HasPrefix(f.httpAddr, "127.0.0.1:") || strings.HasPrefix(f.httpAddr, "localhost:") {
			fail("%s: --http %s is unreachable from outside the container", name, f.httpAddr)
		}
	}
}

// checkHookdNATSUser checks that a hookd service signs in to every node as
// a user with a password there (as a producer, it could not use JetStream).
func checkHookdNATSUser(name string, c app.NATSClient, nodes map[string]*server.Options, fail func(string, ...any)) {
	if c.User == "" {
		if c.CredsFile == "" && c.NkeyFile == "" && c.Token == "" {
			fail("%s: connects to NATS without credentials: as a producer it may not use JetStream (set HOOKD_NATS_USER and HOOKD_NATS_PASSWORD)", name)
		}
		return
	}
	for _, node := range slices.Sorted(maps.Keys(nodes)) {
		o := nodes[node]
		i := slices.IndexFunc(o.Users, func(u *server.User) bool { return u.Username == c.User })
		switch {
		case i < 0 || c.User == o.NoAuthUser:
			fail("%s: NATS user %q is no user of %s", name, c.User, node)
		case o.Users[i].Password != c.Password:
			fail("%s: NATS user %q's password is not %s's", name, c.User, node)
		default:
			checkHookdPermissions(name, node, o.Users[i], fail)
			checkOwnAccount(name, node, o, o.Users[i], fail)
		}
	}
}

// checkOwnAccount checks that hookd's user is not in the account of the
// clients without credentials: JetStream sends a publish's acknowledgement
// to the reply subject the publisher chose, in the stream's account, so a
// producer sharing hookd's account could have it written into hookd's
// buckets or deliveries.
func checkOwnAccount(name, node string, o *server.Options, u *server.User, fail func(string, ...any)) {
	account := func(u *server.User) string {
		if u.Account == nil {
			return "$G"
		}
		return u.Account.Name
	}
	for _, p := range o.Users {
		if p.Username == o.NoAuthUser && account(p) == account(u) {
			fail("%s: NATS user %q shares account %s with clients without credentials on %s: their acknowledgements could be written into hookd's buckets (docs/nats.md)",
				name, u.Username, account(u), node)
		}
	}
}

// checkHookdPermissions checks that user may do what hookd does (see
// docs/nats.md): a subject of each kind.
func checkHookdPermissions(name, node string, u *server.User, fail func(string, ...any)) {
	var pub, sub *server.SubjectPermission
	if u.Permissions != nil {
		pub, sub = u.Permissions.Publish, u.Permissions.Subscribe
	}
	for _, subj := range []string{"events.order.paid", "tenants.acme.events.order.paid", "events.hookd.endpoint.disabled", "hookd.deliver.ep_x",
		"hookd.ops.delivery.failing", "$JS.API.STREAM.INFO.HOOKD_EVENTS", "$JS.ACK.HOOKD_EVENTS.x", "$JS.FC.x", "$KV.hookd_endpoints.ep_x"} {
		if !permits(pub, subj) {
			fail("%s: NATS user %q may not publish to %q on %s, which hookd does", name, u.Username, subj, node)
		}
	}
	for _, subj := range []string{"_HOOKD_INBOX.x", "hookd.wake.ep_x"} {
		if !permits(sub, subj) {
			fail("%s: NATS user %q may not subscribe to %q on %s, which hookd does", name, u.Username, subj, node)
		}
	}
}

func checkHookdHealthcheck(name, role string, svc *yNode, f serveFlags, fail func(string, ...any)) {
	test, err := svc.get("healthcheck", "test").strings()
	if err != nil || len(test) < 3 || test[0] != "CMD" || test[1] != "/hookd" || test[2] != "healthcheck" {
		fail("%s: healthcheck.test %q: want [\"CMD\", \"/hookd\", \"healthcheck\", URL]", name, test)
		return
	}
	target, _, err := parseHealthcheck(test[3:], io.Discard)
	if err != nil {
		fail("%s: hookd %s: %v", name, strings.Join(test[1:], " "), err)
		return
	}
	u, _ := url.Parse(target)
	ports := map[string]bool{}
	if _, port, err := net.SplitHostPort(f.metricsListen); err == nil {
		ports[port] = true
	}
	if _, port, err := net.SplitHostPort(f.httpAddr); err == nil && (role == "api" || role == "serve") {
		ports[port] = true
	}
	switch {
	case u.Path != "/readyz":
		fail("%s: healthcheck URL %s: want /readyz", name, target)
	case u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost":
		fail("%s: healthcheck URL %s: want the container's own 127.0.0.1", name, target)
	case !ports[u.Port()]:
		fail("%s: healthcheck URL %s is on port %s, where hookd %s does not listen (--metrics-listen %q)", name, target, u.Port(), role, f.metricsListen)
	}
}

// envVars reads a service's environment (mapping or KEY=VALUE list) into
// vars, interpolating ${VAR:-default} as compose does with an empty shell
// environment, and returns the keys in order.
func (n *yNode) envVars(vars map[string]string) ([]string, error) {
	if n == nil {
		return nil, nil
	}
	var keys []string
	add := func(k, v string) error {
		v, err := composeInterpolate(v)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		keys = append(keys, k)
		vars[k] = v
		return nil
	}
	switch n.kind {
	case yMap:
		for _, k := range n.keys {
			v, ok := n.fields[k].scalar()
			if !ok && n.fields[k].kind != yNull {
				return nil, fmt.Errorf("%s: not a scalar", k)
			}
			if err := add(k, v); err != nil {
				return nil, err
			}
		}
	case ySeq:
		items, err := n.strings()
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			k, v, _ := strings.Cut(it, "=")
			if err := add(k, v); err != nil {
				return nil, err
			}
		}
	default:
		return nil, errors.New("want a mapping or a list")
	}
	return keys, nil
}

var composeVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*)|(:?\?)[^}]*)?\}`)

// composeInterpolate replaces ${VAR}, ${VAR-default} and ${VAR:-default} by
// what compose gives them when VAR is unset. ${VAR:?message} (and
// ${VAR?message}), which compose refuses to start without, stand for a
// value the operator put in .env: "dotenv-VAR" here. Any other $ is an
// error, and so is a password with a default, which everyone reading the
// file would know.
func composeInterpolate(s string) (string, error) {
	var err error
	out := composeVar.ReplaceAllStringFunc(s, func(m string) string {
		sm := composeVar.FindStringSubmatch(m)
		name, dflt, required := sm[1], sm[2] != "", sm[4] != ""
		switch {
		case strings.Contains(name, "PASSWORD") && !required:
			err = fmt.Errorf("%q: %s has a default, or none required: use ${%s:?message}, so compose refuses to start without it", s, name, name)
		case required:
			return "dotenv-" + name
		case dflt:
			return sm[3]
		}
		return ""
	})
	if err != nil {
		return "", err
	}
	if strings.Contains(out, "$") {
		return "", fmt.Errorf("%q: only ${VAR}, ${VAR-default}, ${VAR:-default} and ${VAR:?message} are understood here", s)
	}
	return out, nil
}

// --- A strict parser for the YAML subset compose.yaml uses. ---

type yKind int

const (
	yNull yKind = iota
	yScalar
	yMap
	ySeq
)

type yNode struct {
	kind   yKind
	line   int
	value  string            // yScalar
	keys   []string          // yMap, in order
	fields map[string]*yNode // yMap
	items  []*yNode          // ySeq
}

// get follows mapping keys; nil when any is missing.
func (n *yNode) get(path ...string) *yNode {
	for _, k := range path {
		if n == nil || n.kind != yMap {
			return nil
		}
		n = n.fields[k]
	}
	return n
}

func (n *yNode) scalar() (string, bool) {
	if n == nil || n.kind != yScalar {
		return "", false
	}
	return n.value, true
}

// strings is a sequence of scalars.
func (n *yNode) strings() ([]string, error) {
	if n == nil {
		return nil, errors.New("missing")
	}
	if n.kind != ySeq {
		return nil, fmt.Errorf("line %d: want a list", n.line)
	}
	out := make([]string, len(n.items))
	for i, it := range n.items {
		s, ok := it.scalar()
		if !ok {
			return nil, fmt.Errorf("line %d: want a list of strings", it.line)
		}
		out[i] = s
	}
	return out, nil
}

type yLine struct {
	num, indent int
	text        string // without indentation; never blank or a whole-line comment
}

func parseYAMLSubset(src string) (*yNode, error) {
	var lines []yLine
	for i, raw := range strings.Split(src, "\n") {
		raw = strings.TrimSuffix(raw, "\r")
		text := strings.TrimLeft(raw, " ")
		if strings.HasPrefix(text, "\t") {
			return nil, fmt.Errorf("compose.yaml:%d: tab in indentation", i+1)
		}
		text = strings.TrimRight(text, " \t")
		if text == "" || text[0] == '#' {
			continue
		}
		if text == "---" || text == "..." || text[0] == '%' {
			return nil, fmt.Errorf("compose.yaml:%d: document markers and directives are outside the supported YAML subset", i+1)
		}
		lines = append(lines, yLine{num: i + 1, indent: len(raw) - len(strings.TrimLeft(raw, " ")), text: text})
	}
	if len(lines) == 0 {
		return nil, errors.New("compose.yaml: empty")
	}
	p := &yParser{lines: lines}
	if lines[0].indent != 0 {
		return nil, p.errf(0, "the document must start at column 1")
	}
	root, err := p.block(0)
	if err != nil {
		return nil, err
	}
	if p.i < len(lines) {
		return nil, p.errf(p.i, "unexpected indentation")
	}
	if root.kind != yMap {
		return nil, p.errf(0, "the document must be a mapping")
	}
	return root, nil
}

type yParser struct {
	lines []yLine
	i     int
}

func (p *yParser) errf(i int, format string, args ...any) error {
	num := 0
	if i < len(p.lines) {
		num = p.lines[i].num
	}
	return fmt.Errorf("compose.yaml:%d: %s", num, fmt.Sprintf(format, args...))
}

func isSeqItem(text string) bool { return text == "-" || strings.HasPrefix(text, "- ") }

// block parses the mapping or sequence whose lines start at indent.
func (p *yParser) block(indent int) (*yNode, error) {
	if isSeqItem(p.lines[p.i].text) {
		return p.seq(indent)
	}
	return p.mapping(indent)
}

var yKey = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

func (p *yParser) mapping(indent int) (*yNode, error) {
	n := &yNode{kind: yMap, line: p.lines[p.i].num, fields: map[string]*yNode{}}
	for p.i < len(p.lines) {
		l := p.lines[p.i]
		if l.indent < indent {
			break
		}
		if l.indent > indent {
			return nil, p.errf(p.i, "unexpected indentation")
		}
		if isSeqItem(l.text) {
			return nil, p.errf(p.i, "a list item where a key was expected (indent lists under their key)")
		}
		key, rest, ok := splitYAMLKey(l.text)
		if !ok || !yKey.MatchString(key) {
			return nil, p.errf(p.i, "want `key: value` with a plain key, not %q", l.text)
		}
		if _, dup := n.fields[key]; dup {
			return nil, p.errf(p.i, "duplicate key %q", key)
		}
		var child *yNode
		var err error
		if rest == "" {
			p.i++
			if p.i < len(p.lines) && p.lines[p.i].indent > indent {
				child, err = p.block(p.lines[p.i].indent)
			} else {
				child = &yNode{kind: yNull, line: l.num}
			}
		} else {
			child, err = p.inline(rest, indent)
		}
		if err != nil {
			return nil, err
		}
		n.keys = append(n.keys, key)
		n.fields[key] = child
	}
	return n, nil
}

func (p *yParser) seq(indent int) (*yNode, error) {
	n := &yNode{kind: ySeq, line: p.lines[p.i].num}
	for p.i < len(p.lines) {
		l := p.lines[p.i]
		if l.indent < indent {
			break
		}
		if l.indent > indent || !isSeqItem(l.text) {
			return nil, p.errf(p.i, "unexpected line in a list")
		}
		rest := strings.TrimSpace(l.text[1:])
		if rest == "" || rest[0] == '#' {
			return nil, p.errf(p.i, "nested blocks in list items are outside the supported YAML subset")
		}
		if k, _, ok := splitYAMLKey(rest); ok && yKey.MatchString(k) {
			return nil, p.errf(p.i, "mappings in list items are outside the supported YAML subset (quote the item if it is a string)")
		}
		item, err := p.inline(rest, indent)
		if err != nil {
			return nil, err
		}
		n.items = append(n.items, item)
	}
	return n, nil
}

// splitYAMLKey splits "key: rest" (or "key:"); rest loses a trailing comment.
func splitYAMLKey(text string) (key, rest string, ok bool) {
	if text[0] == '"' || text[0] == '\'' {
		return "", "", false
	}
	for i := 0; i < len(text); i++ {
		if text[i] == ':' && (i+1 == len(text) || text[i+1] == ' ') {
			rest = strings.TrimSpace(text[i+1:])
			if strings.HasPrefix(rest, "#") {
				rest = ""
			}
			return text[:i], rest, true
		}
	}
	return "", "", false
}

// inline parses the value on line p.i (text is its part after "key:" or
// "- "); a flow sequence may go on over more lines indented deeper than
// indent. It leaves p.i at the next line.
func (p *yParser) inline(text string, indent int) (*yNode, error) {
	start := p.i
	line := p.lines[start].num
	p.i++
	switch text[0] {
	case '{':
		return nil, p.errf(start, "flow mappings ({...}) are outside the supported YAML subset: use a block mapping")
	case '&', '*', '!', '|', '>', '@', '`', '%', '?':
		return nil, p.errf(start, "%q: anchors, aliases, tags, block scalars and reserved indicators are outside the supported YAML subset", text)
	case '[':
		for {
			items, err := parseFlowSeq(text, line)
			if err != errUnterminated {
				if err != nil {
					return nil, p.errf(start, "%v", err)
				}
				return &yNode{kind: ySeq, line: line, items: items}, nil
			}
			if p.i >= len(p.lines) || p.lines[p.i].indent <= indent {
				return nil, p.errf(start, "unterminated [")
			}
			text += "\n" + p.lines[p.i].text
			p.i++
		}
	case '"', '\'':
		s, rest, err := yQuoted(text)
		if err == nil && rest != "" && rest[0] != '#' {
			err = fmt.Errorf("%q after a quoted string", rest)
		}
		if err != nil {
			return nil, p.errf(start, "%v", err)
		}
		return &yNode{kind: yScalar, line: line, value: s}, nil
	}
	if i := strings.Index(text, " #"); i >= 0 {
		text = strings.TrimSpace(text[:i])
	}
	if strings.Contains(text, ": ") || strings.HasSuffix(text, ":") {
		return nil, p.errf(start, "%q: a nested mapping on one line; quote it if it is a string", text)
	}
	if text == "~" || text == "null" {
		return &yNode{kind: yNull, line: line}, nil
	}
	return &yNode{kind: yScalar, line: line, value: text}, nil
}

var errUnterminated = errors.New("unterminated")

// parseFlowSeq parses a one-level flow sequence of scalars, which may span
// lines (joined by "\n" in s), with comments at line ends.
func parseFlowSeq(s string, line int) ([]*yNode, error) {
	i := 1 // after '['
	skip := func() {
		for i < len(s) {
			switch {
			case s[i] == ' ' || s[i] == '\n':
				i++
			case s[i] == '#' && (s[i-1] == ' ' || s[i-1] == '\n'):
				for i < len(s) && s[i] != '\n' {
					i++
				}
			default:
				return
			}
		}
	}
	var items []*yNode
	for {
		skip()
		if i >= len(s) {
			return nil, errUnterminated
		}
		if s[i] == ']' && len(items) == 0 {
			i++
			break
		}
		var v string
		switch s[i] {
		case '"', '\'':
			q, rest, err := yQuoted(s[i:])
			if err != nil {
				return nil, err
			}
			v, i = q, len(s)-len(rest)
		case '[', '{', ',', ']', '&', '*', '!', '|', '>':
			return nil, fmt.Errorf("%q in a list: only plain and quoted strings are supported", s[i])
		default:
			j := i
			for j < len(s) && s[j] != ',' && s[j] != ']' && s[j] != '\n' && !(s[j] == '#' && s[j-1] == ' ') {
				j++
			}
			v = strings.TrimSpace(s[i:j])
			if strings.Contains(v, ": ") || strings.HasSuffix(v, ":") {
				return nil, fmt.Errorf("%q: a mapping in a list; quote it if it is a string", v)
			}
			i = j
		}
		items = append(items, &yNode{kind: yScalar, line: line, value: v})
		skip()
		if i >= len(s) {
			return nil, errUnterminated
		}
		if s[i] == ']' {
			i++
			break
		}
		if s[i] != ',' {
			return nil, fmt.Errorf("want , or ] after %q", v)
		}
		i++
		skip()
		if i < len(s) && s[i] == ']' {
			return nil, errors.New("trailing comma in a list")
		}
	}
	rest := strings.TrimLeft(s[i:], " ")
	if rest != "" && rest[0] != '#' {
		return nil, fmt.Errorf("%q after ]", rest)
	}
	return items, nil
}

// yQuoted reads the quoted string s starts with and returns it and what
// follows it (left-trimmed). Double-quoted strings may not hold escapes, so
// that what this test reads is byte for byte what compose reads.
func yQuoted(s string) (string, string, error) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch {
		case s[i] == '\n':
			return "", "", errors.New("multi-line strings are outside the supported YAML subset")
		case q == '"' && s[i] == '\\':
			return "", "", errors.New("escapes in double-quoted strings are outside the supported YAML subset")
		case s[i] == q && q == '\'' && i+1 < len(s) && s[i+1] == '\'':
			b.WriteByte('\'')
			i++
		case s[i] == q:
			return b.String(), strings.TrimLeft(s[i+1:], " "), nil
		default:
			b.WriteByte(s[i])
		}
	}
	return "", "", errors.New("unterminated quoted string")
}
