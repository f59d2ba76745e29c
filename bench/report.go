package bench

import (
	"fmt"
	"io"
	"time"
)

// WriteText writes a result for people.
func (r *Result) WriteText(w io.Writer) error {
	rate := "max (saturation)"
	if r.Rate > 0 {
		rate = fmt.Sprintf("%.0f events/s", r.Rate)
	}
	l := r.Ledger
	verdict := "balanced"
	if !l.Balanced {
		verdict = "NOT BALANCED: this run is void"
	}
	lines := []string{
		fmt.Sprintf("hookd bench: %d endpoint(s), rate %s, %s, NATS %s, receiver %s, sync always %v",
			r.Endpoints, rate, time.Duration(r.DurationSeconds*float64(time.Second)), r.NATS, r.Receiver, r.SyncAlways),
		"",
		fmt.Sprintf("endpoints     %d created in %.1f s through POST /v1/endpoints/bulk (%.0f endpoints/s); all routable after %.1f s",
			r.Endpoints, r.EndpointCreateSeconds, r.EndpointsCreatedPerSecond, r.EndpointsRoutableSeconds),
		fmt.Sprintf("ledger        published %d = delivered %d + missing %d (%s); duplicates %d, rejected publishes %d, unexpected %d",
			l.Published, l.Delivered, l.Missing, verdict, l.Duplicates, l.Rejected, l.Unexpected),
		fmt.Sprintf("accepted      %10.0f events/s", r.AcceptedPerSecond),
		fmt.Sprintf("delivered     %10.0f deliveries/s", r.DeliveriesPerSecond),
		fmt.Sprintf("latency       p50 %s  p90 %s  p99 %s  p99.9 %s  max %s (scheduled send to arrival)",
			secs(r.Latency.P50), secs(r.Latency.P90), secs(r.Latency.P99), secs(r.Latency.P999), secs(r.Latency.Max)),
		fmt.Sprintf("cpu           %.3f s per 1,000 deliveries (this process)", r.CPUSecondsPer1000),
		fmt.Sprintf("peak rss      %.1f MiB", float64(r.PeakRSSBytes)/(1<<20)),
	}
	if r.IdleRSSBytes > 0 {
		lines = append(lines, fmt.Sprintf("idle          %.1f%% of a core, %.1f MiB resident, with %d endpoints and no events",
			r.IdleCPUFraction*100, float64(r.IdleRSSBytes)/(1<<20), r.Endpoints))
	}
	if r.DirectHTTPPerSecond > 0 {
		lines = append(lines, "",
			fmt.Sprintf("baseline      direct HTTP POST loop %10.0f req/s   -> deliveries/s / direct HTTP = %.2f (best of a run before and after)", r.DirectHTTPPerSecond, r.VsDirectHTTP),
			fmt.Sprintf("baseline      JetStream publish     %10.0f msg/s   -> deliveries/s / JetStream   = %.2f", r.JetStreamPerSecond, r.VsJetStream))
	}
	for _, line := range lines {
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

func secs(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(10 * time.Microsecond).String()
}
