package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookd/hookd/version"
)

// maxAnswer bounds how much of an answer the client reads.
const maxAnswer = 32 << 20

// client calls hookd's HTTP API (docs/api.md). Its methods take the
// context first and return the server's JSON answer as it came, so
// commands can print it as is (-o json) or decode it for a table.
type client struct {
	base   string // e.g. http://127.0.0.1:8080, without a trailing slash
	apiKey string
	http   *http.Client
}

// newClient returns a client of the API at server, which may omit the
// scheme ("localhost:8080" is http://localhost:8080).
func newClient(server, apiKey string) (*client, error) {
	s := strings.TrimSpace(server)
	if s == "" {
		return nil, errors.New("is empty")
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http or https URL with a host", server)
	}
	// An endpoint test waits for the receiver, for up to its timeout (at
	// most 2 minutes); Ctrl-C cancels earlier through the context.
	return &client{base: strings.TrimRight(s, "/"), apiKey: strings.TrimSpace(apiKey), http: &http.Client{Timeout: 3 * time.Minute}}, nil
}

// long returns a copy of c whose requests may take up to d.
func (c *client) long(d time.Duration) *client {
	cc, hc := *c, *c.http
	hc.Timeout = d
	cc.http = &hc
	return &cc
}

// apiError is an error answer: {"error":{"code","field","message"}}.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Field   string `json:"field"`
	Message string `json:"message"`
	// noKey is set when the request carried no API key, for a hint.
	noKey bool
}

// Error reads "400 invalid_field filter: invalid filter: ...".
func (e *apiError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s", e.Status, e.Code)
	if e.Field != "" {
		b.WriteString(" " + e.Field)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.noKey && e.Status == http.StatusUnauthorized {
		b.WriteString(" (no API key given: use --api-key or HOOKD_API_KEY)")
	}
	return b.String()
}

// do sends one request and returns the answer's body; nil for 204. A body
// of nil sends {} on POST (routes whose body is optional accept it); any
// other body is sent as JSON. An error answer is an *apiError.
func (c *client) do(ctx context.Context, method, path string, query url.Values, body any) (json.RawMessage, error) {
	var rd io.Reader
	switch {
	case body != nil:
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(raw)
	case method == http.MethodPost:
		rd = strings.NewReader("{}")
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "hookd-cli/"+version.Version)
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach hookd at %s: %w", c.base, err)
	}
	defer func() { _ = resp.Body.Close() }()
	out, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode >= 400 {
		return nil, answerError(resp.StatusCode, out, c.apiKey == "")
	}
	if resp.StatusCode == http.StatusNoContent {
		return nil, nil
	}
	if !json.Valid(out) {
		return nil, fmt.Errorf("%s %s: answer %d is not JSON: %q", method, path, resp.StatusCode, snippet(out))
	}
	return out, nil
}

// answerError decodes an error answer; one that is not hookd's JSON (a
// proxy's page, say) is shown by its status and the start of its body.
func answerError(status int, body []byte, noKey bool) error {
	var wrapped struct {
		Error *apiError `json:"error"`
	}
	if err := json.Unmarshal(body, &wrapped); err == nil && wrapped.Error != nil && wrapped.Error.Code != "" {
		wrapped.Error.Status = status
		wrapped.Error.noKey = noKey
		return wrapped.Error
	}
	msg := snippet(body)
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &apiError{Status: status, Code: strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "_")), Message: msg, noKey: noKey}
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// escape makes an id safe as one path segment.
func escape(id string) string { return url.PathEscape(id) }
