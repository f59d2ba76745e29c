package netguard

import (
	"errors"
	"net/netip"
	"testing"
)

func TestDefaultPolicyRefusesNonPublicAddresses(t *testing.T) {
	p := New(nil)
	denied := []string{
		"127.0.0.1", "127.255.255.254", "::1",
		"10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "fd00::1", "fc00::1",
		"169.254.169.254", "169.254.0.1", "fe80::1", "fd00:ec2::254",
		"100.64.0.1", "100.127.255.254",
		"224.0.0.1", "239.255.255.250", "ff02::1",
		"0.0.0.0", "0.1.2.3", "::",
		"192.0.2.1", "198.51.100.7", "203.0.113.9", "2001:db8::1",
		"240.0.0.1", "255.255.255.255", "192.0.0.8", "198.18.0.1",
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", // IPv4-mapped
		"64:ff9b::7f00:1", "64:ff9b::a00:1", "64:ff9b::a9fe:a9fe", // NAT64
		"2002:7f00:1::1", "2002:a00:1::", // 6to4
		"2001:0:4136:e378:8000:63bf:80ff:fffe", // Teredo, client 127.0.0.1
		"2001:0:a00:1::1",                      // Teredo, server 10.0.0.1
		"::127.0.0.1",                          // IPv4-compatible
		"fe80::1%eth0",
	}
	for _, s := range denied {
		a := netip.MustParseAddr(s)
		err := p.Check(a)
		var be *BlockedError
		if !errors.As(err, &be) || !errors.Is(err, ErrBlocked) || be.Range == "" {
			t.Errorf("%s allowed (%v), want refused", s, err)
		}
	}
	allowed := []string{
		"8.8.8.8", "1.1.1.1", "93.184.216.34", "100.63.255.255", "100.128.0.0", "172.32.0.1", "11.0.0.1",
		"2606:4700:4700::1111", "2a00:1450:4001::1", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
	}
	for _, s := range allowed {
		if err := p.Check(netip.MustParseAddr(s)); err != nil {
			t.Errorf("%s refused: %v", s, err)
		}
	}
}

func TestAllowNetsOpensRanges(t *testing.T) {
	allow, err := ParseAllow("127.0.0.0/8, 10.1.0.0/16,::1")
	if err != nil {
		t.Fatal(err)
	}
	p := New(allow)
	for _, s := range []string{"127.0.0.1", "10.1.2.3", "::1", "::ffff:127.0.0.1", "64:ff9b::7f00:1"} {
		if err := p.Check(netip.MustParseAddr(s)); err != nil {
			t.Errorf("%s refused with it allowed: %v", s, err)
		}
	}
	for _, s := range []string{"10.2.0.1", "192.168.0.1", "169.254.169.254"} {
		if err := p.Check(netip.MustParseAddr(s)); err == nil {
			t.Errorf("%s allowed, outside the allowed ranges", s)
		}
	}
	if _, err := ParseAllow("10.0.0.0/33"); err == nil {
		t.Error("a bad prefix parsed")
	}
	if _, err := ParseAllow("example.com"); err == nil {
		t.Error("a host name parsed as a network")
	}
}

func TestControlChecksTheDialledAddress(t *testing.T) {
	p := New(nil)
	if err := p.Control("tcp", "127.0.0.1:80", nil); !errors.Is(err, ErrBlocked) {
		t.Errorf("dial to 127.0.0.1: %v", err)
	}
	if err := p.Control("tcp6", "[2606:4700:4700::1111]:443", nil); err != nil {
		t.Errorf("dial to a public address: %v", err)
	}
}
