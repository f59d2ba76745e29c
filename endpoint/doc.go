// Package endpoint owns endpoints: the URLs events are delivered to, with
// their routing rule and signing secret, how they are validated, and how
// they are stored in a JetStream key-value bucket that every router and
// worker watches.
package endpoint
