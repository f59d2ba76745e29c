// Package delivery owns what a delivery is once routed: the headers that
// travel with it through an endpoint's stream, its identity, and the records
// of its attempts and of its dead-lettering.
package delivery
