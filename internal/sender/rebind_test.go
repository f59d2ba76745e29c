package sender

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/netguard"
)

// rebindingDNS answers A queries for any name: the first with a public
// address, every later one with 127.0.0.1, as a DNS-rebinding attacker's
// server does. Other queries get an empty answer.
func rebindingDNS(t *testing.T) (addr string, queries *atomic.Int32) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	queries = &atomic.Int32{}
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := buf[:n]
			// The question ends after the name's labels and QTYPE, QCLASS.
			end := 12
			for end < len(q) && q[end] != 0 {
				end += int(q[end]) + 1
			}
			end += 5
			if end > len(q) {
				continue
			}
			qtype := binary.BigEndian.Uint16(q[end-4 : end-2])
			resp := append([]byte{}, q[:end]...)
			resp[2], resp[3] = 0x81, 0x80            // response, recursion available, no error
			binary.BigEndian.PutUint16(resp[6:8], 0) // answers
			if qtype == 1 {
				ip := netip.MustParseAddr("93.184.216.34").As4()
				if queries.Add(1) > 1 {
					ip = netip.MustParseAddr("127.0.0.1").As4()
				}
				binary.BigEndian.PutUint16(resp[6:8], 1)
				resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4) // name pointer, A, IN, TTL 0, length 4
				resp = append(resp, ip[:]...)
			}
			_, _ = pc.WriteTo(resp, from)
		}
	}()
	return pc.LocalAddr().String(), queries
}

// A name that resolves to a public address when looked at and to loopback
// when connected to (DNS rebinding) is refused: the guard checks the
// address actually dialled.
func TestSendRefusesDNSRebinding(t *testing.T) {
	var hit atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit.Add(1) }))
	defer srv.Close()
	dnsAddr, queries := rebindingDNS(t)
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "udp", dnsAddr)
	}}
	// What a check-then-connect guard would look at: a public address.
	ips, err := resolver.LookupNetIP(context.Background(), "ip4", "rebind.example")
	if err != nil || len(ips) != 1 || netguard.New(nil).Check(ips[0]) != nil {
		t.Fatalf("first lookup %v, %v: want one public address", ips, err)
	}
	s := newWithResolver("hookd/test", netguard.New(nil), resolver, slog.New(slog.NewTextHandler(io.Discard, nil)))
	url := "http://rebind.example:" + srv.URL[strings.LastIndex(srv.URL, ":")+1:] + "/hook"
	_, err = s.Send(context.Background(), testRequest(t, url, 5*time.Second))
	if !errors.Is(err, netguard.ErrBlocked) || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("rebound name: %v, want refused as loopback", err)
	}
	if hit.Load() != 0 || queries.Load() < 2 {
		t.Fatalf("receiver hit %d times, %d DNS queries", hit.Load(), queries.Load())
	}
}
