package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// printer writes a command's result: the server's JSON, indented (-o
// json), or a table (-o table). Notes for people go to errw.
type printer struct {
	w, errw io.Writer
	json    bool
}

// raw writes the server's JSON answer, indented.
func (p *printer) raw(answer json.RawMessage) error {
	var b bytes.Buffer
	if err := json.Indent(&b, answer, "", "  "); err != nil {
		return fmt.Errorf("indent answer: %w", err)
	}
	b.WriteByte('\n')
	_, err := p.w.Write(b.Bytes())
	return err
}

// note writes a line for people to stderr, in table mode only.
func (p *printer) note(format string, args ...any) {
	if !p.json {
		_, _ = fmt.Fprintf(p.errw, format+"\n", args...)
	}
}

// show prints answer as JSON, or decodes it into a T and prints it with
// render.
func show[T any](p *printer, answer json.RawMessage, render func(t *table, v T)) error {
	if p.json {
		return p.raw(answer)
	}
	var v T
	if err := json.Unmarshal(answer, &v); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	t := &table{tw: tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)}
	render(t, v)
	return t.tw.Flush()
}

// table writes aligned columns.
type table struct{ tw *tabwriter.Writer }

// row writes one line of cells.
func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = oneLine(c)
	}
	_, _ = fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

// field writes a "name  value" line of a single object's table.
func (t *table) field(name, value string) { t.row(name, value) }

// blank writes an empty line (ends the current alignment block).
func (t *table) blank() {
	_ = t.tw.Flush()
	_, _ = fmt.Fprintln(t.tw)
}

// oneLine keeps a cell on one line.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", `\n`, "\n", `\n`, "\t", " ").Replace(s)
}

// when shows an RFC 3339 time to the second; anything else as is.
func when(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.Format(time.RFC3339)
}

// list shows patterns, "*" for every type.
func list(l []string, empty string) string {
	if len(l) == 0 {
		return empty
	}
	return strings.Join(l, ",")
}

// pairs shows a map as sorted k=v, comma separated.
func pairs(m map[string]string, sep string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + sep + m[k]
	}
	return strings.Join(keys, ", ")
}

func yesNo(b bool) string { return strconv.FormatBool(b) }

// orDash shows an empty value as "-".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// seconds shows a duration in seconds with millisecond precision.
func seconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Millisecond).String()
}

// compact shows JSON on one line.
func compact(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "null"
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}
