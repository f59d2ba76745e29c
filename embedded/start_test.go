package embedded

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// busyAddr listens on a free 127.0.0.1 port for the rest of the test and
// returns its address.
func busyAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// A client port in use fails Start at once with a ListenError naming the
// address, not after the 30 s ready timeout; the data directory is
// released for the next try.
func TestStartFailsAtOnceOnABusyClientPort(t *testing.T) {
	addr := busyAddr(t)
	dir := t.TempDir()
	begin := time.Now()
	s, err := Start(Config{StoreDir: dir, Listen: addr, Logger: quietLogger()})
	took := time.Since(begin)
	if err == nil {
		s.Shutdown()
		t.Fatalf("Start on busy %s succeeded", addr)
	}
	var le *ListenError
	if !errors.As(err, &le) || le.Port != "client" || le.Addr != addr || !errors.Is(err, ErrListen) {
		t.Fatalf("err = %v, want a client ListenError for %s", err, addr)
	}
	if !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("message %q does not name the address and the reason", err)
	}
	if took > 5*time.Second {
		t.Errorf("Start took %s to fail, want at once", took)
	}
	s, err = Start(Config{StoreDir: dir, Listen: "127.0.0.1:0", Logger: quietLogger()})
	if err != nil {
		t.Fatalf("the data directory is still locked after a failed start: %v", err)
	}
	s.Shutdown()
}

// The same for a cluster port in use.
func TestStartFailsAtOnceOnABusyClusterPort(t *testing.T) {
	addr := busyAddr(t)
	begin := time.Now()
	s, err := Start(Config{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", ServerName: "n1", ClusterName: "c",
		ClusterListen: addr, Routes: []string{"nats://" + addr}, Logger: quietLogger()})
	took := time.Since(begin)
	if err == nil {
		s.Shutdown()
		t.Fatalf("Start on busy cluster port %s succeeded", addr)
	}
	var le *ListenError
	if !errors.As(err, &le) || le.Port != "cluster" || le.Addr != addr {
		t.Fatalf("err = %v, want a cluster ListenError for %s", err, addr)
	}
	if took > 5*time.Second {
		t.Errorf("Start took %s to fail, want at once", took)
	}
}

// A second server on a data directory in use is refused at once, naming
// the directory; once the first stops, the directory can be used again.
func TestSecondServerOnADataDirIsRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first, err := Start(Config{StoreDir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	second, err := Start(Config{StoreDir: dir, Logger: quietLogger()})
	if err == nil {
		second.Shutdown()
		first.Shutdown()
		t.Fatal("a second server started on the same data directory")
	}
	if !errors.Is(err, ErrStoreDirLocked) || !strings.Contains(err.Error(), dir) {
		t.Errorf("err = %v, want ErrStoreDirLocked naming %s", err, dir)
	}
	first.Shutdown()
	again, err := Start(Config{StoreDir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("after the first stopped: %v", err)
	}
	again.Shutdown()
}

// Restart starts a new server on the same directory and port (chosen at
// random here): what was stored is there, and in-process and TCP clients
// carry on by themselves.
func TestRestartKeepsAddressDataAndClients(t *testing.T) {
	s, err := Start(Config{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	url := s.ClientURL()
	inproc, err := s.Connect(nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer inproc.Close()
	tcp, err := nats.Connect(url, append(s.InternalOptions(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	js, _ := jetstream.New(inproc)
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(t.Context(), "s.before", []byte("1")); err != nil {
		t.Fatal(err)
	}
	first := s.NATS()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if s.NATS() == first || s.ClientURL() != url {
		t.Fatalf("after Restart: same server %v, URL %s (was %s)", s.NATS() == first, s.ClientURL(), url)
	}
	for _, c := range []struct {
		name string
		nc   *nats.Conn
	}{{"in-process", inproc}, {"tcp", tcp}} {
		cjs, _ := jetstream.New(c.nc)
		deadline := time.Now().Add(10 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			_, err := cjs.Publish(ctx, "s.after", []byte(c.name))
			cancel()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s client cannot publish after Restart: %v", c.name, err)
			}
		}
	}
	stream, err := js.Stream(t.Context(), "S")
	if err != nil {
		t.Fatal(err)
	}
	if n := stream.CachedInfo().State.Msgs; n != 3 {
		t.Errorf("stream holds %d messages after Restart, want 3", n)
	}
	// The new server authenticates as the first did: producers (here
	// anonymous) are let in, into their own account again.
	anon, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("anonymous producer after Restart: %v", err)
	}
	anon.Close()
}
