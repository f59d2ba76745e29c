package cli

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// The API's objects, as the tables need them (docs/api.md).

// listOf is a page of a list answer.
type listOf[T any] struct {
	Data       []T    `json:"data"`
	HasMore    bool   `json:"has_more"`
	NextCursor string `json:"next_cursor"`
}

type endpointView struct {
	ID          string            `json:"id"`
	Tenant      string            `json:"tenant"`
	Name        string            `json:"name"`
	Description string            `json:"description"`
	URL         string            `json:"url"`
	Events      []string          `json:"events"`
	Filter      string            `json:"filter"`
	Enabled     *bool             `json:"enabled"`
	Disabled    *bool             `json:"disabled"` // servers before "enabled"
	Headers     map[string]string `json:"headers"`
	Timeout     json.RawMessage   `json:"timeout"`
	Metadata    map[string]string `json:"metadata"`
	Retry       struct {
		Schedule    []string `json:"schedule"`
		MaxAttempts int      `json:"max_attempts"`
	} `json:"retry"`
	Profile     string  `json:"profile"`
	Format      string  `json:"format"`
	Transform   string  `json:"transform"`
	Ordering    string  `json:"ordering"`
	OrderingKey string  `json:"ordering_key"`
	MaxInFlight int     `json:"max_in_flight"`
	RateLimit   float64 `json:"rate_limit"`
	Batch       *struct {
		MaxEvents int    `json:"max_events"`
		MaxWait   string `json:"max_wait"`
		Field     string `json:"field"`
	} `json:"batch"`
	Secret    string `json:"secret"`
	Signing   string `json:"signing"`
	PublicKey string `json:"public_key"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

func (e endpointView) enabled() bool {
	if e.Enabled != nil {
		return *e.Enabled
	}
	return e.Disabled == nil || !*e.Disabled
}

// timeout shows "30s", or "default" when the server's applies.
func (e endpointView) timeout() string {
	var s string
	if json.Unmarshal(e.Timeout, &s) == nil {
		return orDefault(s)
	}
	var ns int64
	if json.Unmarshal(e.Timeout, &ns) == nil && ns > 0 {
		return time.Duration(ns).String()
	}
	return "default"
}

// retry shows the endpoint's own retry policy, or "default".
func (e endpointView) retry() string {
	if len(e.Retry.Schedule) == 0 && e.Retry.MaxAttempts == 0 {
		return "default"
	}
	out := list(e.Retry.Schedule, "default schedule")
	if e.Retry.MaxAttempts > 0 {
		out += ", at most " + strconv.Itoa(e.Retry.MaxAttempts) + " attempts"
	}
	return out
}

// ordering shows "none", "ordered" or "ordered by <key>".
func (e endpointView) ordering() string {
	switch {
	case e.Ordering == "":
		return "none"
	case e.OrderingKey != "":
		return e.Ordering + " by " + e.OrderingKey
	}
	return e.Ordering
}

// limits shows max_in_flight and rate_limit, "-" for none.
func (e endpointView) limits() string {
	var parts []string
	if e.MaxInFlight > 0 {
		parts = append(parts, strconv.Itoa(e.MaxInFlight)+" in flight")
	}
	if e.RateLimit > 0 {
		parts = append(parts, strconv.FormatFloat(e.RateLimit, 'f', -1, 64)+"/s")
	}
	return orDash(strings.Join(parts, ", "))
}

// batch shows "up to 100 events or 10s, as events", or "-" when deliveries
// go one by one.
func (e endpointView) batch() string {
	if e.Batch == nil {
		return "-"
	}
	return "up to " + strconv.Itoa(e.Batch.MaxEvents) + " events or " + e.Batch.MaxWait + ", as " + e.Batch.Field
}

func orDefault(s string) string {
	if s == "" {
		return "default"
	}
	return s
}

// secretView is a shared secret, or an ed25519 endpoint's public key.
type secretView struct {
	Signing                 string `json:"signing"`
	Secret                  string `json:"secret"`
	PublicKey               string `json:"public_key"`
	PreviousSecretExpiresAt string `json:"previous_secret_expires_at"`
}

func (s secretView) print(t *table) {
	t.field("signing", orDefault(s.Signing))
	if s.PublicKey != "" {
		t.field("public_key", s.PublicKey)
	} else {
		t.field("secret", s.Secret)
	}
}

// attemptResult is the answer of an endpoint test.
type attemptResult struct {
	Succeeded       bool    `json:"succeeded"`
	StatusCode      int     `json:"status_code"`
	DurationSeconds float64 `json:"duration_seconds"`
	Response        string  `json:"response"`
	Error           string  `json:"error"`
}

type matchResult struct {
	Matched bool   `json:"matched"`
	Error   string `json:"error"`
}

type recoverResult struct {
	Requeued int `json:"requeued"`
}

type deliveryView struct {
	ID             string        `json:"id"`
	EndpointID     string        `json:"endpoint_id"`
	EventID        string        `json:"event_id"`
	EventType      string        `json:"event_type"`
	Status         string        `json:"status"`
	AttemptCount   int           `json:"attempt_count"`
	CreatedAt      string        `json:"created_at"`
	UpdatedAt      string        `json:"updated_at"`
	LastStatusCode int           `json:"last_status_code"`
	LastError      string        `json:"last_error"`
	NextAttemptAt  string        `json:"next_attempt_at"`
	BatchID        string        `json:"batch_id"`
	BatchSize      int           `json:"batch_size"`
	Attempts       []attemptView `json:"attempts"`
}

type attemptView struct {
	Attempt         int     `json:"attempt"`
	Time            string  `json:"time"`
	StatusCode      int     `json:"status_code"`
	Error           string  `json:"error"`
	DurationSeconds float64 `json:"duration_seconds"`
	Response        string  `json:"response"`
	Outcome         string  `json:"outcome"`
}

// statusCode shows an HTTP status, "-" when there was none.
func statusCode(n int) string {
	if n == 0 {
		return "-"
	}
	return strconv.Itoa(n)
}

type eventAccepted struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Duplicate bool   `json:"duplicate"`
}

type eventView struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Tenant    string          `json:"tenant"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
	RoutedTo  []struct {
		EndpointID string `json:"endpoint_id"`
		DeliveryID string `json:"delivery_id"`
	} `json:"routed_to"`
}

type keyView struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Scope     string `json:"scope"`
	Tenant    string `json:"tenant"`
	CreatedAt string `json:"created_at"`
	ExpiresAt string `json:"expires_at"`
	Key       string `json:"key"`
}

type tenantView struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Metadata  map[string]string `json:"metadata"`
	Limits    tenantLimits      `json:"limits"`
	CreatedAt string            `json:"created_at"`
	UpdatedAt string            `json:"updated_at"`
}

// tenantLimits are a tenant's limits; 0 is unlimited.
type tenantLimits struct {
	MaxEndpoints    int     `json:"max_endpoints"`
	EventsPerSecond float64 `json:"events_per_second"`
}

func (l tenantLimits) maxEndpoints() string {
	if l.MaxEndpoints <= 0 {
		return "unlimited"
	}
	return strconv.Itoa(l.MaxEndpoints)
}

func (l tenantLimits) eventsPerSecond() string {
	if l.EventsPerSecond <= 0 {
		return "unlimited"
	}
	return strconv.FormatFloat(l.EventsPerSecond, 'f', -1, 64)
}

type portalTokenView struct {
	Token     string `json:"token"`
	Tenant    string `json:"tenant"`
	ExpiresAt string `json:"expires_at"`
}
