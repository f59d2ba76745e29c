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
	if iso := r.Isolation; iso != nil {
		lines = append(lines, "", fmt.Sprintf("isolation     one more endpoint answering 503 after %s, %d deliveries waiting for it (%d published, %d refused):",
			FailingDelay, iso.BacklogAtStart, iso.BacklogPublished, iso.BacklogRejected),
			fmt.Sprintf("              routed in %.1f s, out of the shared queue %.1f s later, quiet %.1f s later (%.2f cores, %.2f idle), then waited %.0f s",
				iso.RoutedSeconds, iso.SettledSeconds, iso.QuietSeconds, iso.StartCPU, iso.IdleCPU, iso.WaitedSeconds),
			fmt.Sprintf("              %d attempts to it during the run, %d waiting at the end", iso.FailingAttempts, iso.BacklogAtEnd))
		for _, ph := range []struct {
			name string
			p    Phase
		}{{"without it", iso.Baseline}, {"with it", iso.WithBacklog}} {
			lines = append(lines, fmt.Sprintf("  %-11s p50 %s  p90 %s  p99 %s  p99.9 %s  max %s; %.0f deliveries/s; ledger %d = %d + %d missing%s",
				ph.name, secs(ph.p.Latency.P50), secs(ph.p.Latency.P90), secs(ph.p.Latency.P99), secs(ph.p.Latency.P999), secs(ph.p.Latency.Max),
				ph.p.DeliveriesPerSecond, ph.p.Ledger.Published, ph.p.Ledger.Delivered, ph.p.Ledger.Missing, unbalanced(ph.p.Ledger)))
		}
		lines = append(lines, fmt.Sprintf("  p99 with / without = %.2f (target: at most 2)", iso.P99Ratio))
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

// unbalanced flags a phase's ledger that does not balance.
func unbalanced(l Ledger) string {
	if l.Balanced {
		return ""
	}
	return fmt.Sprintf(" NOT BALANCED (%d unexpected, %d duplicates): void", l.Unexpected, l.Duplicates)
}
