package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/internal/hookdtest"
)

// import reads a JSON array (or NDJSON), sends it in chunks through the
// bulk route, prints each item's id or its error (the field named by the
// item's place in the file), and exits 1 when any item was not created.
func TestEndpointImport(t *testing.T) {
	t.Parallel()
	c := startCLI(t, app.Config{NoRouter: true, NoWorker: true})
	rc := hookdtest.NewReceiver(t)
	var arr []string
	for i := range 25 {
		filter := fmt.Sprintf("data.n == %d", i)
		if i == 12 || i == 21 {
			filter = "data.n =="
		}
		arr = append(arr, fmt.Sprintf(`  {"url": %q, "filter": %q}`, rc.URL+fmt.Sprint("/", i), filter))
	}
	file := writeFile(t, "endpoints.json", "[\n"+strings.Join(arr, ",\n")+"\n]\n")

	r := c.run("endpoint", "import", "--file", file, "--chunk", "10")
	wantFail(t, r, 1, []string{"23 of 25 endpoints created; 2 not", "created 23 of 25 endpoints"}, []string{"endpoint", "import"})
	rows := columns(r.out)
	if len(rows) != 26 || strings.Join(rows[0], " ") != "ITEM ID RESULT" {
		t.Fatalf("want a header and 25 rows:\n%s", r.out)
	}
	for i, row := range rows[1:] {
		bad := i == 12 || i == 21
		switch {
		case row[0] != fmt.Sprint(i):
			t.Errorf("row %d is of item %s", i, row[0])
		case bad && (row[1] != "-" || strings.Join(row[2:5], " ") != fmt.Sprintf("400 invalid_field items[%d].filter:", i)):
			t.Errorf("item %d: %q, want its 400 naming items[%d].filter", i, row, i)
		case !bad && (!strings.HasPrefix(row[1], "ep_") || row[2] != "created"):
			t.Errorf("item %d: %q, want created with its id", i, row)
		}
	}

	// NDJSON, -o json: every result with the created endpoints' secrets.
	var lines []string
	for i := range 5 {
		lines = append(lines, fmt.Sprintf(`{"url":%q,"name":"nd %d"}`, rc.URL+"/nd", i))
	}
	out := c.json("endpoint", "import", "--file", writeFile(t, "endpoints.ndjson", strings.Join(lines, "\n")+"\n"), "--parallel", "2", "--chunk", "2")
	items, _ := out["items"].([]any)
	if out["created"] != 5.0 || out["failed"] != 0.0 || len(items) != 5 {
		t.Fatalf("-o json: %v", out)
	}
	for i, it := range items {
		ep, _ := it.(map[string]any)["endpoint"].(map[string]any)
		if ep["name"] != fmt.Sprint("nd ", i) || !strings.HasPrefix(fmt.Sprint(ep["secret"]), "whsec_") {
			t.Errorf("item %d: %v, want endpoint nd %d with its secret", i, it, i)
		}
	}
	var page struct{ Data []json.RawMessage }
	_, body := c.h.Do(t, "GET", "/v1/endpoints?limit=250", nil)
	if err := json.Unmarshal(body, &page); err != nil || len(page.Data) != 28 {
		t.Fatalf("%d endpoints exist, want 23 + 5: %v", len(page.Data), err)
	}
}

// Mistakes on the command line or in the file are usage errors (exit 2)
// naming the flag; nothing is sent.
func TestEndpointImportUsageErrors(t *testing.T) {
	t.Parallel()
	c := startCLI(t, app.Config{NoRouter: true, NoWorker: true})
	good := writeFile(t, "good.json", `[{"url":"https://x.example"}]`)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "--file is required"},
		{[]string{"--file", good, "--chunk", "0"}, "--chunk must be from 1 to 1000"},
		{[]string{"--file", good, "--chunk", "1001"}, "--chunk must be from 1 to 1000"},
		{[]string{"--file", good, "--parallel", "0"}, "--parallel must be from 1 to 16"},
		{[]string{"--file", filepath.Join(t.TempDir(), "nope.json")}, "--file: open"},
		{[]string{"--file", writeFile(t, "empty.json", " \n")}, "holds no endpoints"},
		{[]string{"--file", writeFile(t, "emptyarr.json", "[]")}, "holds no endpoints"},
		{[]string{"--file", writeFile(t, "broken.json", `[{"url":`)}, "not a JSON array of endpoints"},
		{[]string{"--file", writeFile(t, "after.json", `[{"url":"https://x.example"}] {}`)}, "data after the JSON array"},
		{[]string{"--file", writeFile(t, "broken.ndjson", "{\"url\":\"https://x.example\"}\n{\"url\"\n")}, "endpoint 2 is not valid JSON"},
	} {
		args := append([]string{"endpoint", "import"}, tc.args...)
		wantFail(t, c.run(args...), 2, []string{tc.want}, args)
	}
	_, body := c.h.Do(t, "GET", "/v1/endpoints", nil)
	if !strings.Contains(string(body), `"data":[]`) {
		t.Fatalf("a refused import created endpoints: %s", body)
	}
}

// The file's forms: a JSON array, NDJSON, objects separated by any
// whitespace; each body goes as it is, compacted.
func TestReadImport(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in string }{
		{"array", " [ {\"url\": \"a\"},\n {\"url\": \"b\"} ]\n"},
		{"ndjson", "{\"url\": \"a\"}\n{\"url\": \"b\"}\n"},
		{"concatenated", "{\"url\": \"a\"} {\"url\": \"b\"}"},
	} {
		items, err := readImport(strings.NewReader(tc.in))
		if err != nil || len(items) != 2 || string(items[0]) != `{"url":"a"}` || string(items[1]) != `{"url":"b"}` {
			t.Errorf("%s: %q %v", tc.name, items, err)
		}
	}
}
