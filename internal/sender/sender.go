// Package sender makes the HTTP side of a delivery: one signed POST to an
// endpoint per attempt (Sender.Send), built from the endpoint's current
// configuration (BuildRequest), and the attempt's failure classified as
// *RetryableError, *PermanentError or *GoneError so the caller can decide
// what comes next. It holds no delivery state: the worker and the API's
// test sends share it.
package sender

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/netguard"
	"github.com/hookd/hookd/payload"
	"github.com/hookd/hookd/signing"
	"github.com/hookd/hookd/tracing"
)

// maxResponseRead bounds how much of a response body is read: a receiver
// cannot make a worker buffer more.
const maxResponseRead = 64 << 10

// maxResponseKept bounds the response snippet kept in an attempt record.
const maxResponseKept = 1 << 10

// Request is one signed POST to make.
type Request struct {
	URL       string
	MessageID string
	Body      []byte
	// ContentType is the body's, "" for application/json.
	ContentType string
	Keys        []signing.Key
	// Headers are the endpoint's own headers, set before hookd's; template
	// values among them are skipped: Rendered holds what they rendered to.
	Headers map[string]string
	// Rendered are the endpoint's templated header values rendered for
	// this delivery by the router.
	Rendered map[string]string
	Timeout  time.Duration
	// SkipBody leaves the response body unread (LangSmith's rule).
	SkipBody bool
	// NoThrottleRetry makes 408 and 429 permanent, like any other 4xx.
	NoThrottleRetry bool
}

// ownHeaders are the canonical names of the headers Send sets on every
// attempt, in the order of its values.
var ownHeaders = [...]string{
	textproto.CanonicalMIMEHeaderKey("Content-Type"),
	textproto.CanonicalMIMEHeaderKey("User-Agent"),
	textproto.CanonicalMIMEHeaderKey(signing.HeaderID),
	textproto.CanonicalMIMEHeaderKey(signing.HeaderTimestamp),
	textproto.CanonicalMIMEHeaderKey(signing.HeaderSignature),
}

// Response is what one attempt got back.
type Response struct {
	StatusCode int
	Body       []byte
	Duration   time.Duration
}

// Sender POSTs deliveries. Connection failures are retried twice in-process
// with short waits; everything longer is JetStream's job.
type Sender struct {
	client    *retryablehttp.Client
	userAgent string
}

// New returns a Sender with a transport tuned for many concurrent
// requests per host, which never follows redirects and connects only to
// addresses guard allows (nil: public addresses only). It uses no proxy:
// the guard must see the address really connected to.
func New(userAgent string, guard *netguard.Policy, log *slog.Logger) *Sender {
	return newWithResolver(userAgent, guard, nil, log)
}

// newWithResolver is New with a resolver of the caller's (nil: the
// system's), which tests use to play a rebinding DNS server.
func newWithResolver(userAgent string, guard *netguard.Policy, resolver *net.Resolver, log *slog.Logger) *Sender {
	if guard == nil {
		guard = netguard.New(nil)
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: guard.Control, Resolver: resolver}
	transport := &http.Transport{
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	rc := retryablehttp.NewClient()
	rc.HTTPClient = &http.Client{
		Transport: transport,
		// A redirect is the receiver's failure, not an instruction: following
		// it would send a signed payload somewhere nobody configured.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	rc.RetryMax = 2
	rc.RetryWaitMin = 50 * time.Millisecond
	rc.RetryWaitMax = 500 * time.Millisecond
	rc.Logger = nil
	rc.CheckRetry = retryConnectFailures
	rc.ErrorHandler = countAttempts
	return &Sender{client: rc, userAgent: userAgent}
}

// retryConnectFailures retries only when no connection could be made: the
// request never reached the receiver, so repeating it at once is safe.
func retryConnectFailures(ctx context.Context, _ *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	var op *net.OpError
	if err != nil && errors.As(err, &op) && op.Op == "dial" && !errors.Is(err, netguard.ErrBlocked) {
		return true, nil
	}
	return false, nil
}

// redactURL drops the query from the URL in a request error: the error
// ends up in logs and attempt records, and a query may carry a shared
// secret (LangSmith's ?secret=...).
func redactURL(err error) {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		urlErr.URL = endpoint.RedactedURL(urlErr.URL)
	}
}

// countAttempts keeps the response and error as they are, saying how many
// connection attempts were made when the last one failed.
func countAttempts(resp *http.Response, err error, attempts int) (*http.Response, error) {
	redactURL(err)
	if err != nil && attempts > 1 {
		err = fmt.Errorf("%w (%d attempts)", err, attempts)
	}
	return resp, err
}

// Send makes one attempt, signed at the current time. The error is a
// *RetryableError or *PermanentError when the attempt failed.
func (s *Sender) Send(ctx context.Context, r Request) (Response, error) {
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, r.URL, r.Body)
	if err != nil {
		return Response{}, &PermanentError{Err: fmt.Errorf("build request: %w", err)}
	}
	for k, v := range r.Rendered {
		req.Header.Set(k, v)
	}
	// The endpoint's static values as they are now win over a value
	// rendered from a template it no longer has.
	for k, v := range r.Headers {
		if !payload.IsTemplate(v) {
			req.Header.Set(k, v)
		}
	}
	ct := r.ContentType
	if ct == "" {
		ct = payload.JSON
	}
	// hookd's own headers win over the endpoint's, as Header.Set would
	// make them: set under their canonical names, sharing one backing
	// array (each value is capped at one, so an Add elsewhere copies).
	now := time.Now()
	vals := [...]string{ct, s.userAgent, r.MessageID, signing.Timestamp(now), signing.Signature(r.MessageID, now, r.Body, r.Keys...)}
	own := vals[:]
	for i, k := range ownHeaders {
		req.Header[k] = own[i : i+1 : i+1]
	}
	// The deliver span's context (or the producer's), so the receiver can
	// join the trace; nothing when ctx has none.
	tracing.InjectHTTP(ctx, req.Header)
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil && errors.Is(err, netguard.ErrBlocked) {
		// Policy, not a network failure: retrying cannot help.
		return Response{Duration: time.Since(start)}, &PermanentError{Err: blockedError(err)}
	}
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("timed out after %s", r.Timeout)
		}
		redactURL(err)
		return Response{Duration: time.Since(start)}, &RetryableError{Err: err}
	}
	var body []byte
	var readErr error
	if !r.SkipBody {
		body, readErr = io.ReadAll(io.LimitReader(resp.Body, maxResponseRead))
	}
	_ = resp.Body.Close()
	out := Response{StatusCode: resp.StatusCode, Body: body, Duration: time.Since(start)}
	err = classify(resp.StatusCode, readErr)
	if r.NoThrottleRetry && (resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests) {
		err = &PermanentError{StatusCode: resp.StatusCode}
	}
	var retry *RetryableError
	if errors.As(err, &retry) && throttles(resp.StatusCode) {
		retry.Throttled = true
		retry.After = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return out, err
}

// throttles reports the statuses whose Retry-After hookd honours.
func throttles(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date; 0 when
// absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		return max(0, time.Duration(secs)*time.Second)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now))
	}
	return 0
}

// classify maps a status code to the attempt's error, nil for success.
func classify(code int, readErr error) error {
	switch {
	case code >= 200 && code < 300:
		return nil // the body's read error does not matter: the receiver took it.
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests:
		return &RetryableError{StatusCode: code}
	case code == http.StatusGone:
		return &GoneError{}
	case code >= 400 && code < 500:
		return &PermanentError{StatusCode: code}
	default:
		return &RetryableError{StatusCode: code, Err: readErr}
	}
}

// Snippet returns the first KiB of a response body as valid UTF-8, as
// attempt records keep it.
func Snippet(b []byte) string { return snippet(b) }

func snippet(b []byte) string {
	if len(b) > maxResponseKept {
		b = b[:maxResponseKept]
	}
	return string(bytes.ToValidUTF8(b, []byte("\uFFFD")))
}

// blockedError is the guard's refusal without the URL (its query may hold
// a secret) and the dial's wrapping.
func blockedError(err error) error {
	var be *netguard.BlockedError
	if errors.As(err, &be) {
		return fmt.Errorf("refused by the SSRF guard: %w", be)
	}
	return err
}
