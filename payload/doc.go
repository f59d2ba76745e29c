// Package payload owns what an endpoint receives: the body of each delivery
// and its content type, in the endpoint's format (standard, raw, envelope,
// slack, discord, teams or an expr transform), and the endpoint's header
// values written as templates over the event. An endpoint's format is
// compiled once, when the endpoint is loaded, and rendered per event by
// the router; formats that do not depend on the endpoint are rendered once
// per event, however many endpoints receive it. docs/payloads.md shows
// every format's exact body.
package payload
