// Package bulkcreate creates many endpoints through hookd's
// POST /v1/endpoints/bulk, for `hookd endpoint import` and `hookd bench`:
// it splits endpoint bodies into requests the server takes, keeps a few
// requests in flight, sends again what the server says was not created
// and is safe to send again, and gives one result per body, in order.
//
// What it never does is send an item again when it cannot know whether
// the item was created (a request that got no answer): endpoints have no
// client-chosen key, so a second send would create a second endpoint.
// Such items are reported with status 0 and code "unknown".
package bulkcreate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Path is the route bodies are posted to.
const Path = "/v1/endpoints/bulk"

// Answer is the server's answer to one request.
type Answer struct {
	Status int
	// RetryAfter is the answer's Retry-After; 0 when it has none.
	RetryAfter time.Duration
	Body       []byte
}

// Send posts body (a {"items":[...]} object) to Path and returns the
// answer; an error only when no answer came.
type Send func(ctx context.Context, body []byte) (Answer, error)

// Options tune how items are sent. Every field is optional.
type Options struct {
	// ChunkItems is the most items per request: default 200 (the server
	// takes up to 1,000; smaller requests answer sooner and spread over
	// the server's creation slots).
	ChunkItems int
	// ChunkBytes is the most bytes of items per request: default 4 MiB
	// (the server takes 8 MiB). A larger single item is sent alone, for the
	// server to refuse it as that item's error.
	ChunkBytes int
	// Parallel is how many requests are in flight: default 4.
	Parallel int
	// Attempts is how many times an item is sent when the server answers
	// that it was not created and may be sent again (503 unavailable or
	// not_attempted, or the whole request 429 or 503): default 5.
	Attempts int
	// Progress, when set, is called (from one goroutine at a time) as
	// items get their final result, with how many have one.
	Progress func(done, total int)
}

func (o *Options) setDefaults() {
	if o.ChunkItems <= 0 {
		o.ChunkItems = 200
	}
	if o.ChunkBytes <= 0 {
		o.ChunkBytes = 4 << 20
	}
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
}

// Result is one item's outcome, as the server gave it.
type Result struct {
	// Index is the item's position in the list given to Create.
	Index int `json:"index"`
	// Status is 201 for a created endpoint, else the error's status; 0
	// when no answer says (Error.Code "unknown" or "not_sent").
	Status int `json:"status"`
	// Endpoint is the created endpoint, with its secret, as the server
	// answered it.
	Endpoint json.RawMessage `json:"endpoint,omitempty"`
	Error    *Error          `json:"error,omitempty"`
}

// Created reports whether the item was created.
func (r Result) Created() bool { return r.Status == http.StatusCreated }

// Error is an item's error, in the API's shape. Field is prefixed by the
// item's position in the list given to Create (items[12].filter).
type Error struct {
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// ErrStopped reports that Create stopped sending: the server refused a
// whole request for a reason another request would share (a bad key, a
// body it does not take), or a request got no answer. Items never sent
// have status 0 and code "not_sent".
var ErrStopped = errors.New("bulk create stopped")

// Create sends items (each a POST /v1/endpoints body) and returns one
// result per item, in order. The error, when not nil, wraps ErrStopped or
// is ctx's; the results are complete either way.
func Create(ctx context.Context, items []json.RawMessage, send Send, opt Options) ([]Result, error) {
	opt.setDefaults()
	results := make([]Result, len(items))
	for i := range results {
		results[i] = Result{Index: i, Error: &Error{Code: "not_sent", Message: "not sent: an earlier request failed"}}
	}
	c := &creator{items: items, send: send, opt: opt, results: results}
	chunks := make(chan []int)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for range min(opt.Parallel, len(items)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for chunk := range chunks {
				if err := c.chunk(ctx, chunk); err != nil {
					cancel(err)
				}
			}
		}()
	}
send:
	for _, chunk := range c.split() {
		select {
		case chunks <- chunk:
		case <-ctx.Done():
			break send
		}
	}
	close(chunks)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return results, err
	}
	return results, nil
}

type creator struct {
	items   []json.RawMessage
	send    Send
	opt     Options
	mu      sync.Mutex // guards results' writes and done
	results []Result
	done    int
}

// split groups item indices into requests of at most ChunkItems items
// and ChunkBytes bytes.
func (c *creator) split() [][]int {
	var out [][]int
	var cur []int
	size := 0
	for i, it := range c.items {
		if len(cur) > 0 && (len(cur) == c.opt.ChunkItems || size+len(it)+1 > c.opt.ChunkBytes) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, i)
		size += len(it) + 1
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// chunk sends one request's items, then again those the server says are
// safe to send again, up to Attempts times. An error stops everything.
func (c *creator) chunk(ctx context.Context, idx []int) error {
	for attempt := 1; len(idx) > 0; attempt++ {
		last := attempt == c.opt.Attempts
		ans, err := c.send(ctx, c.body(idx))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			c.final(idx, func(int) Result {
				return Result{Status: 0, Error: &Error{Code: "unknown", Message: "no answer (" + err.Error() + "): the endpoint may have been created; list the endpoints before sending it again"}}
			})
			return fmt.Errorf("%w: %v", ErrStopped, err)
		}
		var wait time.Duration
		switch {
		case ans.Status == http.StatusOK:
			retry, err := c.answered(idx, ans.Body, last)
			if err != nil {
				return err
			}
			idx, wait = retry, time.Duration(attempt)*time.Second
		case (ans.Status == http.StatusTooManyRequests || ans.Status == http.StatusServiceUnavailable) && !last:
			// Refused whole before any item was looked at: send it again.
			wait = max(ans.RetryAfter, time.Second)
		default:
			e := requestError(ans)
			c.final(idx, func(int) Result { return Result{Status: ans.Status, Error: e} })
			if ans.Status == http.StatusTooManyRequests || ans.Status == http.StatusServiceUnavailable {
				return nil // out of attempts: these items failed, the others may go on
			}
			return fmt.Errorf("%w: %d %s: %s", ErrStopped, ans.Status, e.Code, e.Message)
		}
		if len(idx) == 0 {
			return nil
		}
		timer := time.NewTimer(wait) // backing off, as the server asked
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		}
	}
	return nil
}

// answered records a 200 answer to the request of idx and returns the
// items to send again.
func (c *creator) answered(idx []int, body []byte, last bool) ([]int, error) {
	var a struct {
		Items []Result `json:"items"`
	}
	if err := json.Unmarshal(body, &a); err != nil || len(a.Items) != len(idx) {
		n := len(a.Items)
		c.final(idx, func(int) Result {
			return Result{Error: &Error{Code: "unknown", Message: "the answer is not one result per item: list the endpoints before sending it again"}}
		})
		return nil, fmt.Errorf("%w: the answer to %d items is not a result per item (%d results, %v)", ErrStopped, len(idx), n, err)
	}
	var retry []int
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, r := range a.Items {
		g := idx[i]
		if retryable(r) && !last {
			retry = append(retry, g)
			continue
		}
		if r.Error != nil {
			// The server names the item by its place in the request.
			local := fmt.Sprintf("items[%d]", i)
			if rest, ok := strings.CutPrefix(r.Error.Field, local); ok {
				r.Error.Field = fmt.Sprintf("items[%d]", g) + rest
			}
		}
		r.Index = g
		c.results[g] = r
		c.done++
	}
	c.progress()
	return retry, nil
}

// final gives every item of idx its result, made by res.
func (c *creator) final(idx []int, res func(int) Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, g := range idx {
		r := res(g)
		r.Index = g
		c.results[g] = r
		c.done++
	}
	c.progress()
}

// progress reports; c.mu is held.
func (c *creator) progress() {
	if c.opt.Progress != nil {
		c.opt.Progress(c.done, len(c.items))
	}
}

func (c *creator) body(idx []int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"items":[`)
	for i, g := range idx {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(c.items[g])
	}
	b.WriteString("]}")
	return b.Bytes()
}

// retryable reports an item the server did not create and that is safe
// to send again.
func retryable(r Result) bool {
	return r.Status == http.StatusServiceUnavailable && r.Error != nil && (r.Error.Code == "unavailable" || r.Error.Code == "not_attempted")
}

// requestError reads the error of an answer refusing a whole request.
func requestError(ans Answer) *Error {
	var wrapped struct {
		Error *Error `json:"error"`
	}
	if err := json.Unmarshal(ans.Body, &wrapped); err == nil && wrapped.Error != nil && wrapped.Error.Code != "" {
		return wrapped.Error
	}
	msg := strings.TrimSpace(string(ans.Body))
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	return &Error{Code: strings.ToLower(strings.ReplaceAll(http.StatusText(ans.Status), " ", "_")), Message: msg}
}

// HTTPSend returns a Send posting to baseURL+Path with hc, with header's
// fields (Authorization, say) on every request. Answers are read up to
// 64 MiB (1,000 endpoints with their secrets take well under 8).
func HTTPSend(hc *http.Client, baseURL string, header http.Header) Send {
	url := strings.TrimRight(baseURL, "/") + Path
	return func(ctx context.Context, body []byte) (Answer, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return Answer{}, err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return Answer{}, err
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		if err != nil {
			return Answer{}, fmt.Errorf("read answer: %w", err)
		}
		ans := Answer{Status: resp.StatusCode, Body: out}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			ans.RetryAfter = time.Duration(s) * time.Second
		}
		return ans, nil
	}
}
