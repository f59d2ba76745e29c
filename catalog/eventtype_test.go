package catalog

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
)

const orderSchema = `{"type":"object","required":["order_id","amount"],"properties":{
	"order_id":{"type":"string"},"amount":{"type":"number","minimum":0},
	"email":{"type":"string","format":"email"},
	"items":{"type":"array","items":{"$ref":"#/$defs/item"}}},
	"$defs":{"item":{"type":"object","required":["sku"],"properties":{"sku":{"type":"string","minLength":2}}}}}`

func TestCompile(t *testing.T) {
	big := `"` + strings.Repeat("x", MaxDocument) + `"`
	for _, c := range []struct {
		name  string
		t     EventType
		field string // "" when accepted
		msg   string // part of the message
	}{
		{"name only", EventType{Name: "order.created"}, "", ""},
		{"schema and example", EventType{Name: "order.created", Schema: json.RawMessage(orderSchema), Example: json.RawMessage(`{"order_id":"o_1","amount":4.5,"items":[{"sku":"ab"}]}`)}, "", ""},
		{"boolean schema", EventType{Name: "a", Schema: json.RawMessage(`true`)}, "", ""},
		{"draft-07 schema", EventType{Name: "a", Schema: json.RawMessage(`{"$schema":"http://json-schema.org/draft-07/schema#","type":"object"}`)}, "", ""},
		{"null schema and example are none", EventType{Name: "a", Schema: json.RawMessage(`null`), Example: json.RawMessage(` null`)}, "", ""},
		{"empty name", EventType{}, "name", "empty"},
		{"wildcard name", EventType{Name: "order.*"}, "name", "wildcard"},
		{"name not a key", EventType{Name: "café.x"}, "name", "A-Z a-z 0-9"},
		{"long description", EventType{Name: "a", Description: strings.Repeat("d", MaxDescription+1)}, "description", "longer"},
		{"schema not a schema", EventType{Name: "a", Schema: json.RawMessage(`{"type":"strin"}`)}, "schema", "not a valid JSON Schema: at /type"},
		{"schema not JSON", EventType{Name: "a", Schema: json.RawMessage(`{`)}, "schema", "not JSON"},
		{"schema reads a file", EventType{Name: "a", Schema: json.RawMessage(`{"$ref":"file:///etc/passwd"}`)}, "schema", "self-contained"},
		{"schema fetches a URL", EventType{Name: "a", Schema: json.RawMessage(`{"$ref":"https://example.com/s.json"}`)}, "schema", "self-contained"},
		{"schema refers to a sibling", EventType{Name: "a", Schema: json.RawMessage(`{"$ref":"other.json"}`)}, "schema", "self-contained"},
		{"schema too large", EventType{Name: "a", Schema: json.RawMessage(big)}, "schema", "larger"},
		{"example not matching", EventType{Name: "a", Schema: json.RawMessage(orderSchema), Example: json.RawMessage(`{"order_id":"o_1","amount":-1}`)}, "example", "at /amount: minimum"},
		{"example with a bad format", EventType{Name: "a", Schema: json.RawMessage(orderSchema), Example: json.RawMessage(`{"order_id":"o","amount":1,"email":"nope"}`)}, "example", "at /email"},
		{"example not JSON", EventType{Name: "a", Example: json.RawMessage(`{`)}, "example", "not JSON"},
	} {
		t.Run(c.name, func(t *testing.T) {
			et := c.t
			_, err := Compile(&et)
			var fe *FieldError
			switch {
			case c.field == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.field == "":
			case !errors.As(err, &fe) || fe.Field != c.field || !strings.Contains(fe.Message, c.msg):
				t.Fatalf("err %v, want a FieldError on %s containing %q", err, c.field, c.msg)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	c, err := Compile(&EventType{Name: "order.created", Schema: json.RawMessage(orderSchema)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		data, path, msg string
		more            int
		ok              bool
	}{
		{data: `{"order_id":"o_1","amount":42}`, ok: true},
		{data: `{"order_id":"o_1","amount":12345678901234567890123}`, ok: true}, // beyond float64 precision: still a number
		{data: `{"order_id":"o_1","amount":"42"}`, path: "/amount", msg: "got string, want number"},
		{data: `{"order_id":"o_1"}`, path: "", msg: "missing property 'amount'"},
		{data: `{"order_id":"o_1","amount":1,"items":[{"sku":"ab"},{"sku":"x"}]}`, path: "/items/1/sku", msg: "minLength"},
		{data: `{"order_id":1,"amount":"x"}`, path: "/amount", msg: "want number", more: 1},
		{data: `[1]`, path: "", msg: "got array, want object"},
		{data: `null`, path: "", msg: "got null, want object"},
	} {
		err := c.Check([]byte(tc.data))
		if tc.ok {
			if err != nil {
				t.Errorf("%s: %v", tc.data, err)
			}
			continue
		}
		var se *SchemaError
		if !errors.As(err, &se) || se.Path != tc.path || !strings.Contains(se.Message, tc.msg) || se.More != tc.more {
			t.Errorf("%s: err %#v, want path %q message with %q and %d more", tc.data, err, tc.path, tc.msg, tc.more)
		}
	}
	if got := (&SchemaError{Path: "", Message: "m", More: 2}).Error(); got != "at (root): m (and 2 more)" {
		t.Errorf("Error() = %q", got)
	}
	if err := (&Compiled{EventType: &EventType{Name: "x"}}).Check([]byte(`"anything"`)); err != nil {
		t.Errorf("a type without a schema refused data: %v", err)
	}
}

// Many wrong items: the first is reported with the count of the others.
// BenchmarkCheckManyErrors shows the cost grows with the items, not with
// their square.
func TestCheckManyErrors(t *testing.T) {
	c, err := Compile(&EventType{Name: "list", Schema: json.RawMessage(`{"type":"array","items":{"type":"string"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	var se *SchemaError
	if err := c.Check(manyNumbers(2000)); !errors.As(err, &se) || se.Path != "/0" || se.More != 1999 {
		t.Fatalf("err %#v, want /0 and 1999 more", err)
	}
}

func manyNumbers(n int) []byte {
	return []byte("[" + strings.TrimSuffix(strings.Repeat("1,", n), ",") + "]")
}

// go test -run '^$' -bench CheckManyErrors ./catalog/
func BenchmarkCheckManyErrors(b *testing.B) {
	c, err := Compile(&EventType{Name: "list", Schema: json.RawMessage(`{"type":"array","items":{"type":"string"}}`)})
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1000, 8000} {
		data := manyNumbers(n)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for b.Loop() {
				_ = c.Check(data)
			}
		})
	}
}
