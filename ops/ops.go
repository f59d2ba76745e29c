// Package ops owns hookd's operational events: what hookd says about its own
// deliveries and endpoints (an endpoint disabled or recovered, a delivery
// failing or exhausted). Each is published once to "hookd.ops.<name>"
// (topology.Names.OpsSubject: under the deployment's prefix, if it has
// one): core NATS subscribers see it there, and the events stream stores
// it from there as an event of type "hookd.<name>", so an
// endpoint (or a Slack channel) can subscribe to them like to any event.
//
// The "hookd." type space belongs to hookd: only hookd's own NATS identity
// may publish to "hookd.>", and routers route an event of a "hookd." type
// only when it came on an OpsSubject. One published by anyone else (to
// "events.hookd.endpoint.disabled", say) is dropped, and the API refuses
// such types, so receivers can trust an operational event is hookd's.
package ops

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/tenant"
	"github.com/hookd/hookd/topology"
)

// Operational event names.
const (
	EndpointDisabled  = "endpoint.disabled"
	EndpointRecovered = "endpoint.recovered"
	DeliveryFailing   = "delivery.failing"
	DeliveryExhausted = "delivery.exhausted"
	// DeliverySucceeded is off by default (it doubles the writes of every
	// delivery): see worker.Config.OpsDeliverySucceeded.
	DeliverySucceeded = "delivery.succeeded"
)

// TypePrefix starts the type of every operational event in the events
// stream: subscribe an endpoint to "hookd.>" to receive them all.
const TypePrefix = "hookd."

// IsOps reports whether an event type is an operational event. Deliveries
// of those never raise operational events themselves, so an ops endpoint
// that fails cannot feed on its own failures.
func IsOps(eventType string) bool { return strings.HasPrefix(eventType, TypePrefix) }

// Publisher publishes operational events.
type Publisher struct {
	js    jetstream.JetStream
	names topology.Names
}

// NewPublisher returns a Publisher on topo's JetStream and subjects.
func NewPublisher(topo *topology.Topology) *Publisher {
	return &Publisher{js: topo.JetStream(), names: topo.Names()}
}

// Publish sends an operational event about a tenant's endpoint ("" for the
// default tenant); id makes a re-sent one a duplicate. data is encoded as
// JSON. Every tenant's events go to "hookd.ops.<name>" (with the
// Hookd-Tenant header), seen there on core NATS by the platform's
// operators; through routing they reach only the tenant's own endpoints.
// Errors are returned for logging: operational events never hold a
// delivery back.
func (p *Publisher) Publish(ctx context.Context, tenantID, name, id string, data any) error {
	if p == nil {
		return nil
	}
	body, err := json.Marshal(data)
	if err != nil {
		return err
	}
	// One publish serves both: a JetStream publish is a core NATS message
	// that the events stream also stores.
	m := nats.NewMsg(p.names.OpsSubject(name))
	m.Data = body
	if tenantID != "" && tenantID != tenant.Default {
		m.Header.Set(event.TenantHeader, tenantID)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// Scoped like the API scopes a tenant's event ids (the events stream
	// de-duplicates across tenants).
	_, err = p.js.PublishMsg(ctx, m, jetstream.WithMsgID(event.MsgIDScope(tenantID)+"ops_"+name+"_"+id))
	return err
}

// EndpointData is the data of endpoint.disabled and endpoint.recovered.
type EndpointData struct {
	Tenant     string `json:"tenant"`
	EndpointID string `json:"endpoint_id"`
	// Reason says why an endpoint was disabled.
	Reason string `json:"reason,omitempty"`
	// FailingSince and FailedAttempts describe the run of failures a
	// recovered endpoint came out of.
	FailingSince   *time.Time `json:"failing_since,omitempty"`
	FailedAttempts int        `json:"failed_attempts,omitempty"`
}

// DeliveryData is the data of delivery.failing, delivery.exhausted and
// delivery.succeeded.
type DeliveryData struct {
	Tenant     string `json:"tenant"`
	DeliveryID string `json:"delivery_id"`
	EndpointID string `json:"endpoint_id"`
	EventID    string `json:"event_id"`
	EventType  string `json:"event_type"`
	// Attempts counts the attempts made, the last one included.
	Attempts int `json:"attempts"`
	// LastError and LastStatusCode are the last attempt's (no error and a
	// 2xx for delivery.succeeded); the status is 0 when no answer came.
	LastError       string  `json:"last_error,omitempty"`
	LastStatusCode  int     `json:"last_status_code"`
	DurationSeconds float64 `json:"duration_seconds"`
}
