package bench

import (
	"os"
	"strings"
	"testing"
	"time"
)

// procCPU and procRSS read a process's CPU time and resident set from
// /proc, as `hookd bench --cluster` does for its nodes: here for this
// process, against getrusage and statm.
func TestProcReadsCPUAndRSS(t *testing.T) {
	pid := os.Getpid()
	before, err := procCPU(pid)
	if err != nil {
		t.Skipf("no /proc: %v", err) // not Linux
	}
	// Burn 300 ms of CPU, measured by getrusage.
	r0 := cpuTime()
	x := 0
	for cpuTime()-r0 < 300*time.Millisecond {
		for i := range 100000 {
			x += i
		}
	}
	_ = x
	after, err := procCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	// /proc counts in 10 ms ticks; other goroutines (the test runner) add a
	// little.
	if d := after - before; d < 250*time.Millisecond || d > 5*time.Second {
		t.Fatalf("/proc/self/stat: %s of CPU over a 300 ms busy loop", d)
	}
	rss, err := procRSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	if statm := currentRSS(); rss < statm/2 || rss > statm*2 {
		t.Fatalf("/proc/self/status VmRSS %d bytes, statm %d", rss, statm)
	}
}

// A cluster configuration that cannot run names its flag.
func TestClusterConfigValidate(t *testing.T) {
	ok := ClusterConfig{Binary: "hookd", Endpoints: 1}
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, c := range []struct {
		cfg  ClusterConfig
		flag string
	}{
		{ClusterConfig{Binary: "hookd", Endpoints: 1, Nodes: 2}, "--cluster"},
		{ClusterConfig{Binary: "hookd", Endpoints: 100001}, "--endpoints"},
		{ClusterConfig{Binary: "hookd", Endpoints: 1, Idle: time.Millisecond}, "--idle"},
		{ClusterConfig{Endpoints: 1}, "binary"},
	} {
		if err := c.cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.flag) {
			t.Errorf("%+v: %v, want an error naming %s", c.cfg, err, c.flag)
		}
	}
}

// The text report shows every window of every run, per node.
func TestClusterResultWriteText(t *testing.T) {
	nodes := func(mib int64, cpu float64) []NodeIdle {
		return []NodeIdle{{Name: "n1", RSSBytes: mib << 20, CPUFraction: cpu}, {Name: "n2", RSSBytes: mib << 20, CPUFraction: cpu}}
	}
	r := &ClusterResult{Nodes: 3, Replicas: 3, Runs: []ClusterRun{
		{Endpoints: 1, IdleSeconds: 30, PerNode: nodes(46, 0.0103)},
		{Endpoints: 10000, HeldEndpoints: 100, IdleSeconds: 30, HeldPulled: nodes(121, 0.045), HeldIdle: nodes(124, 0.0287),
			HeldConsumersDuring: 100, PerNode: nodes(130, 0.0107)},
	}}
	var out strings.Builder
	if err := r.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"endpoints 1 ", "endpoints 10000 (100 with max_in_flight)", "workers still pulling", "100 held consumers left",
		"n2   rss   124.0 MiB   cpu  2.87% of a core", "n1   rss   130.0 MiB   cpu  1.07% of a core", "n1   rss    46.0 MiB"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

// A node that cannot start ends the run with an error naming it, at once
// rather than after the health check's two minutes.
func TestRunClusterNodeThatExits(t *testing.T) {
	if _, err := os.Stat("/bin/false"); err != nil {
		t.Skip("no /bin/false")
	}
	start := time.Now()
	_, err := RunCluster(t.Context(), ClusterConfig{Binary: "/bin/false", Endpoints: 1, NoBaselines: true})
	if err == nil || !strings.Contains(err.Error(), "node n1 exited while starting") {
		t.Fatalf("got %v, want node n1 exited while starting", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("took %s to notice", took)
	}
}
