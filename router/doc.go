// Package router owns routing: it consumes the events stream through a
// durable consumer shared by every router, evaluates each endpoint's rule
// against each event, publishes every match to that endpoint's stream and
// acknowledges the event only once all of those publishes were acknowledged.
package router
