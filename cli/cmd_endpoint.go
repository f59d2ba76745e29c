package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
)

var endpointGroup = group{name: "endpoint", summary: "manage the endpoints that receive webhooks", cmds: []command{
	{name: "create", summary: "create an endpoint (--url is required), in --tenant or the default tenant; prints its signing secret", setup: endpointCreate},
	{name: "import", summary: "create many endpoints from --file (a JSON array or NDJSON of create bodies) through POST /v1/endpoints/bulk; prints each one's id or error", setup: endpointImport},
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
