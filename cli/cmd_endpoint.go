package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
)

var endpointGroup = group{name: "endpoint", summary: "manage the endpoints that receive webhooks", cmds: []command{
	{name: "create", summary: "create an endpoint (--url is required), in --tenant or the default tenant; prints its signing secret", setup: endpointCreate},
	{name: "list", summary: "list endpoints, oldest first (--tenant: only that tenant's)", setup: endpointList},
	{name: "get", args: []string{"ID"}, summary: "show an endpoint", setup: endpointGet},
	{name: "update", args: []string{"ID"}, summary: "change the fields given as flags, and only those", setup: endpointUpdate},
	{name: "delete", args: []string{"ID"}, summary: "delete an endpoint and its pending deliveries", setup: endpointDelete},
	{name: "enable", args: []string{"ID"}, summary: "enable an endpoint: held deliveries go out", setup: endpointEnable(true)},
	{name: "disable", args: []string{"ID"}, summary: "disable an endpoint: matches are kept and delivered after enable", setup: endpointEnable(false)},
	{name: "secret", args: []string{"ID"}, summary: "show an endpoint's signing secret", setup: endpointSecret},
	{name: "rotate-secret", args: []string{"ID"}, summary: "make a new signing secret; the old one keeps signing for --grace", setup: endpointRotate},
	{name: "test", args: []string{"ID"}, summary: "send a test event to an endpoint now and show the attempt", setup: endpointTest},
	{name: "test-filter", args: []string{"ID"}, summary: "show whether an endpoint's rule matches the event in --event FILE", setup: endpointTestFilter},
}}

// endpointFlags are the fields of create and update.
type endpointFlags struct {
	url, name, description, filter, timeout, secret string
	retrySchedule, profile, ordering, orderingKey   string
	signing, batchMaxWait, batchField               string
	format, transform, sampleEvent                  string
	maxAttempts, maxInFlight, batchMaxEvents        int
	noBatch                                         bool
	rateLimit                                       float64
	events                                          stringList
	headers, metadata                               pairMap
	disabled                                        bool
}

func (f *endpointFlags) register(fs *flag.FlagSet) {
	f.headers = pairMap{sep: ":", form: "'Name: value'"}
	f.metadata = pairMap{sep: "=", form: "key=value"}
	fs.StringVar(&f.url, "url", "", "URL that receives the deliveries (http or https)")
	fs.StringVar(&f.name, "name", "", "name, for people")
	fs.StringVar(&f.description, "description", "", "description, for people")
	fs.Var(&f.events, "event", "event type pattern, e.g. billing.* or billing.> (repeatable; none: every type; '' clears)")
	fs.StringVar(&f.filter, "filter", "", "expr expression over the event, e.g. 'data.amount > 100'")
	fs.Var(&f.headers, "header", "header sent with every delivery, 'Name: value'; a value may be a template, 'Authorization: Bearer {{ data.token }}' (repeatable; '' clears)")
	fs.StringVar(&f.timeout, "timeout", "", "timeout of one attempt, e.g. 30s ('' is the server's default)")
	fs.StringVar(&f.retrySchedule, "retry-schedule", "", "this endpoint's delays before each retry, e.g. 1s,30s,5m ('' is the server's)")
	fs.StringVar(&f.profile, "profile", "", "response handling: standard or langsmith (5s timeout, 5xx retried twice, 4xx never, body unread)")
	fs.StringVar(&f.format, "format", "", "what the endpoint receives: standard, raw, envelope, slack, discord, teams or transform (docs/payloads.md)")
	fs.StringVar(&f.transform, "transform", "", "with --format transform: expr expression building the body, or @file holding it, e.g. '{\"title\": data.name}'")
	fs.StringVar(&f.sampleEvent, "sample-event", "", `file holding the event the transform and header templates are checked against, {"type":...,"data":...,"headers":{...}}`)
	fs.StringVar(&f.ordering, "ordering", "", "none (parallel) or ordered (in acceptance order, a failing delivery holding back the rest; create only)")
	fs.StringVar(&f.orderingKey, "ordering-key", "", "with --ordering ordered: expr key, e.g. data.order_id; equal keys in order, others in parallel (create only)")
	fs.Float64Var(&f.rateLimit, "rate-limit", 0, "deliveries per second to this endpoint across all workers (0: none)")
	fs.IntVar(&f.maxInFlight, "max-in-flight", 0, "deliveries out at once to this endpoint across all workers (0: no cap)")
	fs.IntVar(&f.batchMaxEvents, "batch-max-events", 0, "send matched events in batches of up to this many, 1 to 1000 (default with any --batch-* flag: 100)")
	fs.StringVar(&f.batchMaxWait, "batch-max-wait", "", "send a batch this long after its first event, 1s to 15m (default with any --batch-* flag: 10s)")
	fs.StringVar(&f.batchField, "batch-field", "", "name of the list of events in a batch body, e.g. runs (default with any --batch-* flag: events)")
	fs.BoolVar(&f.noBatch, "no-batch", false, "send events one by one again (update)")
	fs.IntVar(&f.maxAttempts, "max-attempts", 0, "this endpoint's maximum attempts, the first included (0: the schedule decides)")
	fs.Var(&f.metadata, "metadata", "label, key=value (repeatable; '' clears)")
	fs.BoolVar(&f.disabled, "disabled", false, "hold deliveries until enabled (--disabled=false enables)")
	fs.StringVar(&f.secret, "secret", "", "signing secret, whsec_... or an ed25519 whsk_... (create only; default: generated)")
	fs.StringVar(&f.signing, "signing", "", "hmac-sha256 (shared secret, v1; default) or ed25519 (public key, v1a) (create only; rotate-secret switches)")
}

// body returns the fields given on the command line, and only those.
func (f *endpointFlags) body(fs *flag.FlagSet) (map[string]any, error) {
	body := map[string]any{}
	var err error
	if given(fs, "retry-schedule") || given(fs, "max-attempts") {
		// The API replaces the policy whole: both parts are sent.
		schedule := []string{}
		for _, step := range strings.Split(f.retrySchedule, ",") {
			if step = strings.TrimSpace(step); step != "" {
				if _, derr := durationArg("retry-schedule", step); derr != nil {
					return nil, derr
				}
				schedule = append(schedule, step)
			}
		}
		body["retry"] = map[string]any{"schedule": schedule, "max_attempts": f.maxAttempts}
	}
	if batch, berr := f.batch(fs); berr != nil {
		return nil, berr
	} else if batch != nil {
		body["batch"] = batch
	}
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "url":
			body["url"] = f.url
		case "name":
			body["name"] = f.name
		case "description":
			body["description"] = f.description
		case "event":
			body["events"] = []string(f.events)
		case "filter":
			body["filter"] = f.filter
		case "header":
			body["headers"] = f.headers.m
		case "timeout":
			if f.timeout != "" {
				if _, derr := durationArg("timeout", f.timeout); derr != nil {
					err = derr
				}
			}
			body["timeout"] = f.timeout
		case "metadata":
			body["metadata"] = f.metadata.m
		case "disabled":
			body["enabled"] = !f.disabled
		case "secret":
			body["secret"] = f.secret
		case "signing":
			body["signing"] = f.signing
		case "profile":
			body["profile"] = f.profile
		case "format":
			body["format"] = f.format
		case "transform":
			src := f.transform
			if name, ok := strings.CutPrefix(src, "@"); ok {
				b, rerr := os.ReadFile(name)
				if rerr != nil {
					err = &usageError{fmt.Errorf("--transform: %w", rerr)}
				}
				src = strings.TrimSpace(string(b))
			}
			body["transform"] = src
		case "sample-event":
			ev, ferr := jsonObjectFile("sample-event", f.sampleEvent)
			if ferr != nil {
				err = ferr
			}
			body["sample_event"] = ev
		case "ordering":
			body["ordering"] = f.ordering
		case "ordering-key":
			body["ordering_key"] = f.orderingKey
		case "max-in-flight":
			body["max_in_flight"] = f.maxInFlight
		case "rate-limit":
			body["rate_limit"] = f.rateLimit
		}
	})
	return body, err
}

// batch returns the batch object of the --batch-* flags given (the API
// keeps the fields not sent), nil for none, or null for --no-batch.
func (f *endpointFlags) batch(fs *flag.FlagSet) (any, error) {
	on := given(fs, "batch-max-events") || given(fs, "batch-max-wait") || given(fs, "batch-field")
	if f.noBatch {
		if on {
			return nil, &usageError{errors.New("--no-batch and --batch-* flags contradict each other")}
		}
		return json.RawMessage("null"), nil
	}
	if !on {
		return nil, nil
	}
	batch := map[string]any{}
	if given(fs, "batch-max-events") {
		batch["max_events"] = f.batchMaxEvents
	}
	if given(fs, "batch-max-wait") {
		if _, err := durationArg("batch-max-wait", f.batchMaxWait); err != nil {
			return nil, err
		}
		batch["max_wait"] = f.batchMaxWait
	}
	if given(fs, "batch-field") {
		batch["field"] = f.batchField
	}
	return batch, nil
}

func endpointCreate(fs *flag.FlagSet) runFunc {
	var f endpointFlags
	f.register(fs)
	tenant := fs.String("tenant", "", "tenant that owns the endpoint (admin keys; default: the default tenant, or a tenant key's own)")
	return func(ctx context.Context, x *invocation, _ []string) error {
		if !given(x.fs, "url") || f.url == "" {
			return &usageError{errors.New("--url is required")}
		}
		body, err := f.body(x.fs)
		if err != nil {
			return err
		}
		if given(x.fs, "tenant") {
			body["tenant"] = *tenant
		}
		answer, err := x.api.createEndpoint(ctx, body)
		if err != nil {
			return err
		}
		return show(x.out, answer, printEndpoint)
	}
}

func endpointUpdate(fs *flag.FlagSet) runFunc {
	var f endpointFlags
	f.register(fs)
	return func(ctx context.Context, x *invocation, args []string) error {
		if given(x.fs, "secret") || given(x.fs, "signing") {
			return &usageError{errors.New("--secret and --signing cannot be changed by update: use hookd endpoint rotate-secret")}
		}
		body, err := f.body(x.fs)
		if err != nil {
			return err
		}
		if len(body) == 0 {
			return &usageError{errNothingToUpdate}
		}
		answer, err := x.api.updateEndpoint(ctx, args[0], body)
		if err != nil {
			return err
		}
		return show(x.out, answer, printEndpoint)
	}
}

func endpointList(fs *flag.FlagSet) runFunc {
	var p page
	fs.IntVar(&p.limit, "limit", 0, "endpoints per page, 1 to 250 (default: the server's, 50)")
	fs.StringVar(&p.cursor, "cursor", "", "next_cursor of the previous page")
	tenant := fs.String("tenant", "", "only this tenant's endpoints (admin keys)")
	return func(ctx context.Context, x *invocation, _ []string) error {
		answer, err := x.api.listEndpoints(ctx, p, *tenant)
		if err != nil {
			return err
		}
		return show(x.out, answer, func(t *table, l listOf[endpointView]) {
			t.row("ID", "TENANT", "NAME", "URL", "EVENTS", "ENABLED")
			for _, e := range l.Data {
				t.row(e.ID, orDash(e.Tenant), orDash(e.Name), e.URL, list(e.Events, "*"), yesNo(e.enabled()))
			}
			if l.HasMore {
				more := ""
				if *tenant != "" {
					more = " --tenant " + *tenant
				}
				x.out.note("more: hookd endpoint list%s --cursor %s", more, l.NextCursor)
			}
		})
	}
}

func endpointGet(*flag.FlagSet) runFunc {
	return func(ctx context.Context, x *invocation, args []string) error {
		answer, err := x.api.getEndpoint(ctx, args[0])
		if err != nil {
			return err
		}
		return show(x.out, answer, printEndpoint)
	}
}

func endpointDelete(*flag.FlagSet) runFunc {
	return func(ctx context.Context, x *invocation, args []string) error {
		if err := x.api.deleteEndpoint(ctx, args[0]); err != nil {
			return err
		}
		if !x.out.json {
			_, err := fmt.Fprintf(x.out.w, "deleted endpoint %s\n", args[0])
			return err
		}
		return nil
	}
}

func endpointEnable(enabled bool) func(*flag.FlagSet) runFunc {
	return func(*flag.FlagSet) runFunc {
		return func(ctx context.Context, x *invocation, args []string) error {
			answer, err := x.api.setEndpointEnabled(ctx, args[0], enabled)
			if err != nil {
				return err
			}
			return show(x.out, answer, printEndpoint)
		}
	}
}

func endpointSecret(*flag.FlagSet) runFunc {
	return func(ctx context.Context, x *invocation, args []string) error {
		answer, err := x.api.endpointSecret(ctx, args[0])
		if err != nil {
			return err
		}
		return show(x.out, answer, func(t *table, s secretView) { s.print(t) })
	}
}

func endpointRotate(fs *flag.FlagSet) runFunc {
	grace := fs.String("grace", "", "how long the old secret keeps signing, e.g. 24h; 0s: not at all (default: the server's, 24h)")
	scheme := fs.String("signing", "", "scheme of the new secret: hmac-sha256 or ed25519 (default: unchanged)")
	return func(ctx context.Context, x *invocation, args []string) error {
		if *grace != "" {
			if _, err := durationArg("grace", *grace); err != nil {
				return err
			}
		}
		answer, err := x.api.rotateSecret(ctx, args[0], *grace, *scheme)
		if err != nil {
			return err
		}
		return show(x.out, answer, func(t *table, s secretView) {
			s.print(t)
			t.field("previous_secret_expires_at", orDash(when(s.PreviousSecretExpiresAt)))
		})
	}
}

func endpointTest(fs *flag.FlagSet) runFunc {
	eventType := fs.String("event-type", "", "type of the test event (default: the server's, hookd.test)")
	data := fs.String("data", "", "data of the test event: JSON, or @file.json")
	return func(ctx context.Context, x *invocation, args []string) error {
		var raw []byte
		if given(x.fs, "data") {
			var err error
			if raw, err = jsonArg("data", *data); err != nil {
				return err
			}
		}
		answer, err := x.api.testEndpoint(ctx, args[0], *eventType, raw)
		if err != nil {
			return err
		}
		return show(x.out, answer, func(t *table, r attemptResult) {
			t.field("succeeded", yesNo(r.Succeeded))
			t.field("status_code", statusCode(r.StatusCode))
			t.field("duration", seconds(r.DurationSeconds))
			t.field("response", orDash(r.Response))
			t.field("error", orDash(r.Error))
		})
	}
}

func endpointTestFilter(fs *flag.FlagSet) runFunc {
	file := fs.String("event", "", `file holding the event, {"type":...,"data":...,"id":...,"headers":{...}} (required)`)
	return func(ctx context.Context, x *invocation, args []string) error {
		if *file == "" {
			return &usageError{errors.New("--event FILE is required")}
		}
		ev, err := jsonObjectFile("event", *file)
		if err != nil {
			return err
		}
		answer, err := x.api.testEndpointFilter(ctx, args[0], ev)
		if err != nil {
			return err
		}
		return show(x.out, answer, printMatch)
	}
}

// printEndpoint shows one endpoint, with its secret when the answer has
// it (create).
func printEndpoint(t *table, e endpointView) {
	t.field("id", e.ID)
	t.field("tenant", orDash(e.Tenant))
	t.field("name", orDash(e.Name))
	t.field("description", orDash(e.Description))
	t.field("url", e.URL)
	t.field("events", list(e.Events, "* (every type)"))
	t.field("filter", orDash(e.Filter))
	t.field("enabled", yesNo(e.enabled()))
	t.field("headers", orDash(pairs(e.Headers, ": ")))
	t.field("timeout", e.timeout())
	t.field("retry", e.retry())
	t.field("profile", orDefault(e.Profile))
	t.field("format", orDefault(e.Format))
	t.field("transform", orDash(e.Transform))
	t.field("ordering", e.ordering())
	t.field("limits", e.limits())
	t.field("batch", e.batch())
	t.field("metadata", orDash(pairs(e.Metadata, "=")))
	t.field("created_at", when(e.CreatedAt))
	t.field("updated_at", when(e.UpdatedAt))
	t.field("signing", orDefault(e.Signing))
	if e.PublicKey != "" {
		t.field("public_key", e.PublicKey)
	}
	if e.Secret != "" {
		t.field("secret", e.Secret)
	}
}

// printMatch shows whether a rule matched an event.
func printMatch(t *table, m matchResult) {
	t.field("matched", yesNo(m.Matched))
	if m.Error != "" {
		t.field("error", m.Error)
	}
}
