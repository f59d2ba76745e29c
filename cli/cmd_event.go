package cli

import (
	"context"
	"flag"
)

var eventGroup = group{name: "event", summary: "publish and inspect events", cmds: []command{
	{name: "send", args: []string{"TYPE"}, summary: "publish an event; answers once it is stored", setup: eventSend},
	{name: "get", args: []string{"ID"}, summary: "show an event and where it was routed (--tenant: an event sent for that tenant)", setup: eventGet},
}}

func eventSend(fs *flag.FlagSet) runFunc {
	data := fs.String("data", "", "the event's data: JSON, or @file.json (default: null)")
	id := fs.String("id", "", "event id: re-sending an id within two minutes stores it once (default: generated)")
	tenant := fs.String("tenant", "", "tenant whose endpoints consider the event (default: the default tenant's)")
	return func(ctx context.Context, x *invocation, args []string) error {
		var raw []byte
		if given(x.fs, "data") {
			var err error
			if raw, err = jsonArg("data", *data); err != nil {
				return err
			}
		}
		answer, err := x.api.sendEvent(ctx, args[0], *id, *tenant, raw)
		if err != nil {
			return err
		}
		return show(x.out, answer, func(t *table, e eventAccepted) {
			t.row("ID", "TYPE", "DUPLICATE")
			t.row(e.ID, e.Type, yesNo(e.Duplicate))
		})
	}
}

func eventGet(fs *flag.FlagSet) runFunc {
	tenant := fs.String("tenant", "", "tenant the event was sent for: ids are per tenant (default: the default tenant's)")
	return func(ctx context.Context, x *invocation, args []string) error {
		answer, err := x.api.getEvent(ctx, args[0], *tenant)
		if err != nil {
			return err
		}
		return show(x.out, answer, func(t *table, e eventView) {
			t.field("id", e.ID)
			t.field("type", e.Type)
			if e.Tenant != "" {
				t.field("tenant", e.Tenant)
			}
			t.field("timestamp", when(e.Timestamp))
			t.field("data", compact(e.Data))
			if len(e.RoutedTo) == 0 {
				t.field("routed_to", "-")
				return
			}
			t.blank()
			t.row("ENDPOINT_ID", "DELIVERY_ID")
			for _, r := range e.RoutedTo {
				t.row(r.EndpointID, r.DeliveryID)
			}
		})
	}
}
