package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"time"
)

var tenantGroup = group{name: "tenant", summary: "manage tenants, the platform's customers (admin keys only)", cmds: []command{
	{name: "create", args: []string{"ID"}, summary: "create a tenant; ID is the platform's own customer id (1 to 64 of A-Z a-z 0-9 _ -)", setup: tenantCreate},
	{name: "list", summary: "list tenants", setup: tenantList},
	{name: "get", args: []string{"ID"}, summary: "show a tenant", setup: tenantGet},
	{name: "update", args: []string{"ID"}, summary: "change the fields given as flags, and only those", setup: tenantUpdate},
	{name: "delete", args: []string{"ID"}, summary: "delete a tenant with its endpoints (and their pending deliveries) and its keys", setup: tenantDelete},
	{name: "portal-token", args: []string{"ID"}, summary: "make a token for the tenant's customer: it manages only that tenant's endpoints, cannot publish, and expires", setup: tenantPortalToken},
}}

// tenantFlags are the fields of create and update.
type tenantFlags struct {
	name            string
	metadata        pairMap
	maxEndpoints    int
	eventsPerSecond float64
}

func (f *tenantFlags) register(fs *flag.FlagSet) {
	f.metadata = pairMap{sep: "=", form: "key=value"}
	fs.StringVar(&f.name, "name", "", "name, for people")
	fs.Var(&f.metadata, "metadata", "label, key=value (repeatable; '' clears)")
	fs.IntVar(&f.maxEndpoints, "max-endpoints", 0, "most endpoints the tenant may have (0: unlimited)")
	fs.Float64Var(&f.eventsPerSecond, "events-per-second", 0, "most events per second the tenant may publish over POST /v1/events (0: unlimited)")
}

// body returns the fields given on the command line, and only those: a
// single limit flag sends only that limit.
func (f *tenantFlags) body(fs *flag.FlagSet) map[string]any {
	body := map[string]any{}
	limits := map[string]any{}
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "name":
			body["name"] = f.name
		case "metadata":
			body["metadata"] = f.metadata.m
		case "max-endpoints":
			limits["max_endpoints"] = f.maxEndpoints
		case "events-per-second":
			limits["events_per_second"] = f.eventsPerSecond
		}
	})
	if len(limits) > 0 {
		body["limits"] = limits
	}
	return body
}

func tenantCreate(fs *flag.FlagSet) runFunc {
	var f tenantFlags
	f.register(fs)
	return func(ctx context.Context, x *invocation, args []string) error {
		body := f.body(x.fs)
		body["id"] = args[0]
		answer, err := x.api.createTenant(ctx, body)
		if err != nil {
			return err
		}
		return show(x.out, answer, printTenant)
	}
}

func tenantUpdate(fs *flag.FlagSet) runFunc {
	var f tenantFlags
	f.register(fs)
	return func(ctx context.Context, x *invocation, args []string) error {
		body := f.body(x.fs)
		if len(body) == 0 {
			return &usageError{errors.New("nothing to update: give at least one flag, e.g. --name or --max-endpoints")}
		}
		if err := keepOtherLimit(ctx, x.api, args[0], body); err != nil {
			return err
		}
		answer, err := x.api.updateTenant(ctx, args[0], body)
		if err != nil {
			return err
		}
		return show(x.out, answer, printTenant)
	}
}

func tenantList(fs *flag.FlagSet) runFunc {
	var p page
	fs.IntVar(&p.limit, "limit", 0, "tenants per page (default: the server's)")
	fs.StringVar(&p.cursor, "cursor", "", "next_cursor of the previous page")
	return func(ctx context.Context, x *invocation, _ []string) error {
		answer, err := x.api.listTenants(ctx, p)
		if err != nil {
			return err
		}
		return show(x.out, answer, func(t *table, l listOf[tenantView]) {
			t.row("ID", "NAME", "MAX_ENDPOINTS", "EVENTS_PER_SECOND", "CREATED")
			for _, tn := range l.Data {
				t.row(tn.ID, orDash(tn.Name), tn.Limits.maxEndpoints(), tn.Limits.eventsPerSecond(), whenSet(tn.CreatedAt))
			}
			if l.HasMore {
				x.out.note("more: hookd tenant list --cursor %s", l.NextCursor)
			}
		})
	}
}

func tenantGet(*flag.FlagSet) runFunc {
	return func(ctx context.Context, x *invocation, args []string) error {
		answer, err := x.api.getTenant(ctx, args[0])
		if err != nil {
			return err
		}
		return show(x.out, answer, printTenant)
	}
}

func tenantDelete(*flag.FlagSet) runFunc {
	return func(ctx context.Context, x *invocation, args []string) error {
		if err := x.api.deleteTenant(ctx, args[0]); err != nil {
			return err
		}
		if !x.out.json {
			_, err := fmt.Fprintf(x.out.w, "deleted tenant %s\n", args[0])
			return err
		}
		return nil
	}
}

func tenantPortalToken(fs *flag.FlagSet) runFunc {
	ttl := fs.String("ttl", "", "how long the token works, 5m to 720h (default: the server's, 1h)")
	return func(ctx context.Context, x *invocation, args []string) error {
		if *ttl != "" {
			if _, err := durationArg("ttl", *ttl); err != nil {
				return err
			}
		}
		answer, err := x.api.createPortalToken(ctx, args[0], *ttl)
		if err != nil {
			return err
		}
		x.out.note("The token is shown only this once; hand it to the tenant's customer.")
		return show(x.out, answer, func(t *table, p portalTokenView) {
			t.field("tenant", p.Tenant)
			t.field("expires_at", when(p.ExpiresAt))
			t.field("token", p.Token)
		})
	}
}

// keepOtherLimit completes an update that changes one limit with the
// tenant's current value of the other: PATCH replaces "limits" whole, so
// "--max-endpoints 5" alone would otherwise reset events_per_second to
// unlimited.
func keepOtherLimit(ctx context.Context, api *client, id string, body map[string]any) error {
	limits, _ := body["limits"].(map[string]any)
	if len(limits) != 1 {
		return nil
	}
	answer, err := api.getTenant(ctx, id)
	if err != nil {
		return err
	}
	var cur tenantView
	if err := json.Unmarshal(answer, &cur); err != nil {
		return fmt.Errorf("decode tenant %s: %w", id, err)
	}
	if _, ok := limits["max_endpoints"]; !ok {
		limits["max_endpoints"] = cur.Limits.MaxEndpoints
	}
	if _, ok := limits["events_per_second"]; !ok {
		limits["events_per_second"] = cur.Limits.EventsPerSecond
	}
	return nil
}

// printTenant shows one tenant.
func printTenant(t *table, tn tenantView) {
	t.field("id", tn.ID)
	t.field("name", orDash(tn.Name))
	t.field("metadata", orDash(pairs(tn.Metadata, "=")))
	t.field("max_endpoints", tn.Limits.maxEndpoints())
	t.field("events_per_second", tn.Limits.eventsPerSecond())
	t.field("created_at", whenSet(tn.CreatedAt))
	t.field("updated_at", whenSet(tn.UpdatedAt))
}

// whenSet is when, with "-" for a time never set: the default tenant,
// until it is first changed, has zero times.
func whenSet(s string) string {
	if t, err := time.Parse(time.RFC3339Nano, s); s == "" || err == nil && t.IsZero() {
		return "-"
	}
	return when(s)
}
