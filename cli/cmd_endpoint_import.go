package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/hookd/hookd/internal/bulkcreate"
	"github.com/hookd/hookd/version"
)

// maxImportItemsPerRequest is the most endpoints POST /v1/endpoints/bulk
// takes in one request (httpapi.MaxBulkItems).
const maxImportItemsPerRequest = 1000

func endpointImport(fs *flag.FlagSet) runFunc {
	file := fs.String("file", "", "endpoints to create: a JSON array of endpoint bodies, or one body per line (NDJSON); - reads stdin (required)")
	chunk := fs.Int("chunk", 200, "endpoints per request, 1 to 1000")
	parallel := fs.Int("parallel", 4, "requests in flight, 1 to 16")
	return func(ctx context.Context, x *invocation, _ []string) error {
		switch {
		case *file == "":
			return &usageError{errors.New("--file is required (- for stdin)")}
		case *chunk < 1 || *chunk > maxImportItemsPerRequest:
			return &usageError{fmt.Errorf("--chunk must be from 1 to %d, not %d", maxImportItemsPerRequest, *chunk)}
		case *parallel < 1 || *parallel > 16:
			return &usageError{fmt.Errorf("--parallel must be from 1 to 16, not %d", *parallel)}
		}
		items, err := readImportFile(*file)
		if err != nil {
			return err
		}
		var mu sync.Mutex
		last := time.Now()
		progress := func(done, total int) {
			mu.Lock()
			defer mu.Unlock()
			if done < total && time.Since(last) >= 2*time.Second {
				x.out.note("%d of %d endpoints done", done, total)
				last = time.Now()
			}
		}
		send := bulkcreate.HTTPSend(x.api.http, x.api.base, x.api.bulkHeader())
		results, runErr := bulkcreate.Create(ctx, items, send, bulkcreate.Options{ChunkItems: *chunk, Parallel: *parallel, Progress: progress})
		created := 0
		for _, r := range results {
			if r.Created() {
				created++
			}
		}
		if err := printImport(x.out, results, created); err != nil {
			return err
		}
		switch {
		case runErr != nil:
			return fmt.Errorf("import stopped: %d of %d endpoints created: %w", created, len(items), runErr)
		case created < len(items):
			return fmt.Errorf("%d of %d endpoints created; %d not (see each item's error)", created, len(items), len(items)-created)
		}
		return nil
	}
}

// bulkHeader is what every request of c carries.
func (c *client) bulkHeader() http.Header {
	h := http.Header{"Accept": {"application/json"}, "User-Agent": {"hookd-cli/" + version.Version}}
	if c.apiKey != "" {
		h.Set("Authorization", "Bearer "+c.apiKey)
	}
	return h
}

// printImport prints a line per item (-o table) or every result with the
// created endpoints and their secrets (-o json).
func printImport(p *printer, results []bulkcreate.Result, created int) error {
	if p.json {
		raw, err := json.Marshal(struct {
			Created int                 `json:"created"`
			Failed  int                 `json:"failed"`
			Items   []bulkcreate.Result `json:"items"`
		}{created, len(results) - created, results})
		if err != nil {
			return err
		}
		return p.raw(raw)
	}
	t := &table{tw: tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)}
	t.row("ITEM", "ID", "RESULT")
	for _, r := range results {
		if r.Created() {
			var e struct{ ID string }
			_ = json.Unmarshal(r.Endpoint, &e)
			t.row(strconv.Itoa(r.Index), e.ID, "created")
			continue
		}
		msg := r.Error.Code
		if r.Error.Field != "" {
			msg += " " + r.Error.Field
		}
		if r.Status != 0 {
			msg = strconv.Itoa(r.Status) + " " + msg
		}
		t.row(strconv.Itoa(r.Index), "-", msg+": "+r.Error.Message)
	}
	p.note("created %d of %d endpoints; their secrets: hookd endpoint secret ID, or -o json", created, len(results))
	return t.tw.Flush()
}

// readImportFile reads the endpoint bodies of --file (- is stdin).
func readImportFile(name string) ([]json.RawMessage, error) {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, &usageError{fmt.Errorf("--file: %w", err)}
		}
		defer f.Close()
		r = f
	}
	items, err := readImport(r)
	if err != nil {
		return nil, &usageError{fmt.Errorf("--file %s: %w", name, err)}
	}
	return items, nil
}

// readImport reads endpoint bodies: a JSON array of them, or a stream of
// them (one per line, NDJSON, or any whitespace between). Each body goes
// to the server as it is; the server checks it.
func readImport(r io.Reader) ([]json.RawMessage, error) {
	br := bufio.NewReader(r)
	first, err := firstNonSpace(br)
	if err == io.EOF {
		return nil, errors.New("holds no endpoints")
	}
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(br)
	var items []json.RawMessage
	if first == '[' {
		if err := dec.Decode(&items); err != nil {
			return nil, fmt.Errorf("not a JSON array of endpoints: %w", err)
		}
		if _, err := firstNonSpace(bufio.NewReader(io.MultiReader(dec.Buffered(), br))); err != io.EOF {
			return nil, errors.New("has data after the JSON array")
		}
	} else {
		for n := 1; ; n++ {
			var it json.RawMessage
			err := dec.Decode(&it)
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("endpoint %d is not valid JSON: %w", n, err)
			}
			items = append(items, it)
		}
	}
	if len(items) == 0 {
		return nil, errors.New("holds no endpoints")
	}
	for i, it := range items {
		// Compact: a request body with its line breaks and indents is
		// larger for nothing.
		var b bytes.Buffer
		if err := json.Compact(&b, it); err == nil {
			items[i] = b.Bytes()
		}
	}
	return items, nil
}

// firstNonSpace peeks at the first byte that is not JSON whitespace.
func firstNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return b, br.UnreadByte()
	}
}
