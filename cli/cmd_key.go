package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
)

var keyGroup = group{name: "key", summary: "manage API keys", cmds: []command{
	{name: "create", summary: "create an API key (--scope tenant --tenant T: one that sees only that tenant); prints it, only this once", setup: keyCreate},
	{name: "list", summary: "list API keys (never the keys themselves)", setup: keyList},
	{name: "revoke", args: []string{"ID"}, summary: "revoke an API key at once", setup: keyRevoke},
}}

func keyCreate(fs *flag.FlagSet) runFunc {
	name := fs.String("name", "", "name, for people, e.g. ci")
	scope := fs.String("scope", "", "admin (everything), publish (only sending events) or tenant (only --tenant's endpoints, deliveries and events) (default: tenant with --tenant, else the server's, admin)")
	tenant := fs.String("tenant", "", "the tenant of a --scope tenant key")
	return func(ctx context.Context, x *invocation, _ []string) error {
		if *scope == "tenant" && *tenant == "" {
			return &usageError{errors.New("--scope tenant needs --tenant")}
		}
		if *tenant != "" && *scope == "" {
			*scope = "tenant"
		}
		answer, err := x.api.createKey(ctx, *name, *scope, *tenant)
		if err != nil {
			return err
		}
		x.out.note("The key is shown only this once; store it.")
		return show(x.out, answer, func(t *table, k keyView) {
			t.field("id", k.ID)
			t.field("name", orDash(k.Name))
			t.field("scope", k.Scope)
			t.field("tenant", orDash(k.Tenant))
			t.field("created_at", when(k.CreatedAt))
			t.field("expires_at", orDash(when(k.ExpiresAt)))
			t.field("key", k.Key)
		})
	}
}

func keyList(*flag.FlagSet) runFunc {
	return func(ctx context.Context, x *invocation, _ []string) error {
		answer, err := x.api.listKeys(ctx)
		if err != nil {
			return err
		}
		return show(x.out, answer, func(t *table, l listOf[keyView]) {
			t.row("ID", "NAME", "SCOPE", "TENANT", "CREATED", "EXPIRES")
			for _, k := range l.Data {
				t.row(k.ID, orDash(k.Name), k.Scope, orDash(k.Tenant), when(k.CreatedAt), orDash(when(k.ExpiresAt)))
			}
		})
	}
}

func keyRevoke(*flag.FlagSet) runFunc {
	return func(ctx context.Context, x *invocation, args []string) error {
		if err := x.api.revokeKey(ctx, args[0]); err != nil {
			return err
		}
		if !x.out.json {
			_, err := fmt.Fprintf(x.out.w, "revoked key %s\n", args[0])
			return err
		}
		return nil
	}
}
