// Package ops owns hookd's operational events: what hookd says about its own
// deliveries and endpoints (an endpoint disabled or recovered, a delivery
// failing or exhausted). They go out on core NATS subjects "hookd.ops.<name>"
// and into the events stream as events of type "hookd.<name>", so an
// endpoint (or a Slack channel) can subscribe to them like to any event.
package ops

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/event"
)

// Operational event names.
const (
	EndpointDisabled  = "endpoint.disabled"
	EndpointRecovered = "endpoint.recovered"
	DeliveryFailing   = "delivery.failing"
	DeliveryExhausted = "delivery.exhausted"
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
	js jetstream.JetStream
}

// NewPublisher returns a Publisher on js.
func NewPublisher(js jetstream.JetStream) *Publisher { return &Publisher{js: js} }

// Publish sends an operational event; id makes a re-sent one a duplicate.
// data is encoded as JSON. Errors are returned for logging: operational
// events never hold a delivery back.
func (p *Publisher) Publish(ctx context.Context, name, id string, data any) error {
	if p == nil {
		return nil
	}
	body, err := json.Marshal(data)
	if err != nil {
		return err
	}
	core := nats.NewMsg("hookd.ops." + name)
	core.Data = body
	_ = p.js.Conn().PublishMsg(core)
	m := nats.NewMsg(event.Subject(TypePrefix + name))
	m.Data = body
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = p.js.PublishMsg(ctx, m, jetstream.WithMsgID("ops_"+name+"_"+id))
	return err
}
