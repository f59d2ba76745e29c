package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
)

var eventTypeGroup = group{name: "event-type", summary: "manage the event-type catalogue: descriptions, JSON Schemas and examples (admin keys change it)", cmds: []command{
	{name: "create", summary: "catalogue an event type; events of it whose data does not match --schema are then refused", setup: eventTypeCreate},
	{name: "list", summary: "list event types", setup: eventTypeList},
	{name: "get", args: []string{"NAME"}, summary: "show an event type with its schema and example", setup: eventTypeGet},
	{name: "update", args: []string{"NAME"}, summary: "change the fields given as flags, and only those (--schema null removes the schema)", setup: eventTypeUpdate},
	{name: "delete", args: []string{"NAME"}, summary: "remove an event type: its events are accepted unchecked", setup: eventTypeDelete},
}}

// eventTypeFlags are the fields of create and update.
type eventTypeFlags struct {
	name, description, schema, example string
}

func (f *eventTypeFlags) register(fs *flag.FlagSet, withName bool) {
	if withName {
		fs.StringVar(&f.name, "name", "", "the event type, e.g. order.created (required)")
	}
	fs.StringVar(&f.description, "description", "", "what the event means, for people")
	fs.StringVar(&f.schema, "schema", "", "JSON Schema of the event's data: JSON, or @file.json (null: none)")
	fs.StringVar(&f.example, "example", "", "data of a typical event, matching the schema: JSON, or @file.json (null: none)")
}

// body returns the fields given on the command line, and only those.
func (f *eventTypeFlags) body(fs *flag.FlagSet) (map[string]any, error) {
	body := map[string]any{}
	var err error
	fs.Visit(func(fl *flag.Flag) {
		if err != nil {
			return
		}
		switch fl.Name {
		case "name":
			body["name"] = f.name
		case "description":
			body["description"] = f.description
		case "schema", "example":
			var raw json.RawMessage
			if raw, err = jsonArg(fl.Name, fl.Value.String()); err == nil {
				body[fl.Name] = raw
			}
		}
	})
	return body, err
}

func eventTypeCreate(fs *flag.FlagSet) runFunc {
	var f eventTypeFlags
	f.register(fs, true)
	return func(ctx context.Context, x *invocation, _ []string) error {
		if f.name == "" {
			return &usageError{errors.New("--name is required: the event type, e.g. order.created")}
		}
		body, err := f.body(x.fs)
		if err != nil {
			return err
		}
		answer, err := x.api.createEventType(ctx, body)
		if err != nil {
			return err
		}
		return show(x.out, answer, printEventType)
	}
}

func eventTypeUpdate(fs *flag.FlagSet) runFunc {
	var f eventTypeFlags
	f.register(fs, false)
	return func(ctx context.Context, x *invocation, args []string) error {
		body, err := f.body(x.fs)
		if err != nil {
			return err
		}
		if len(body) == 0 {
			return &usageError{errors.New("nothing to update: give at least one flag, e.g. --schema or --description")}
		}
		answer, err := x.api.updateEventType(ctx, args[0], body)
		if err != nil {
			return err
		}
		return show(x.out, answer, printEventType)
	}
}

func eventTypeList(fs *flag.FlagSet) runFunc {
	var p page
	fs.IntVar(&p.limit, "limit", 0, "event types per page (default: the server's)")
	fs.StringVar(&p.cursor, "cursor", "", "next_cursor of the previous page")
	return func(ctx context.Context, x *invocation, _ []string) error {
		answer, err := x.api.listEventTypes(ctx, p)
		if err != nil {
			return err
		}
		return show(x.out, answer, func(t *table, l listOf[eventTypeView]) {
			t.row("NAME", "SCHEMA", "EXAMPLE", "UPDATED", "DESCRIPTION")
			for _, et := range l.Data {
				t.row(et.Name, yesNo(et.hasSchema()), yesNo(et.hasExample()), when(et.UpdatedAt), orDash(et.Description))
			}
			if l.HasMore {
				x.out.note("more: hookd event-type list --cursor %s", l.NextCursor)
			}
		})
	}
}

func eventTypeGet(*flag.FlagSet) runFunc {
	return func(ctx context.Context, x *invocation, args []string) error {
		answer, err := x.api.getEventType(ctx, args[0])
		if err != nil {
			return err
		}
		return show(x.out, answer, printEventType)
	}
}

func eventTypeDelete(*flag.FlagSet) runFunc {
	return func(ctx context.Context, x *invocation, args []string) error {
		if err := x.api.deleteEventType(ctx, args[0]); err != nil {
			return err
		}
		if !x.out.json {
			_, err := fmt.Fprintf(x.out.w, "deleted event type %s\n", args[0])
			return err
		}
		return nil
	}
}

// eventTypeView is an event type as the API shows it.
type eventTypeView struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema"`
	Example     json.RawMessage `json:"example"`
	CreatedAt   string          `json:"created_at"`
	UpdatedAt   string          `json:"updated_at"`
}

func (e eventTypeView) hasSchema() bool  { return len(e.Schema) > 0 && string(e.Schema) != "null" }
func (e eventTypeView) hasExample() bool { return len(e.Example) > 0 && string(e.Example) != "null" }

// printEventType shows one event type.
func printEventType(t *table, et eventTypeView) {
	t.field("name", et.Name)
	t.field("description", orDash(et.Description))
	t.field("schema", compact(et.Schema))
	t.field("example", compact(et.Example))
	t.field("created_at", when(et.CreatedAt))
	t.field("updated_at", when(et.UpdatedAt))
}
