package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
)

// ErrBlocked is wrapped by every refusal.
var ErrBlocked = errors.New("address not allowed")

// BlockedError is a refused destination: why, and how to open it.
type BlockedError struct {
	Addr netip.Addr
	// Range names the denied range it is in.
	Range string
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("%s is %s: deliveries to it are refused (open the range with --allow-nets)", e.Addr, e.Range)
}

// Unwrap makes errors.Is(err, ErrBlocked) true.
func (e *BlockedError) Unwrap() error { return ErrBlocked }

// Policy decides which addresses deliveries may connect to. The zero value
// is not usable: use New.
type Policy struct {
	allow []netip.Prefix
}

// New returns a policy that refuses the denied ranges except those within
// allow. An allow of 0.0.0.0/0 and ::/0 opens everything.
func New(allow []netip.Prefix) *Policy {
	return &Policy{allow: allow}
}

// ParseAllow parses a comma-separated list of CIDR prefixes (or single
// addresses), as --allow-nets takes them.
func ParseAllow(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(list, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		p, err := netip.ParsePrefix(item)
		if err != nil {
			a, aerr := netip.ParseAddr(item)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not a network like 10.1.0.0/16 or an address", item)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Check returns nil if deliveries may connect to a, else a *BlockedError.
func (p *Policy) Check(a netip.Addr) error {
	a = a.Unmap().WithZone("")
	if p.allowed(a) {
		return nil
	}
	if r := deniedRange(a); r != "" {
		return &BlockedError{Addr: a, Range: r}
	}
	for _, inner := range embeddedIPv4(a) {
		if p.allowed(inner) {
			continue
		}
		if r := deniedRange(inner); r != "" {
			return &BlockedError{Addr: a, Range: r + " (" + inner.String() + " inside an IPv6 address)"}
		}
	}
	return nil
}

func (p *Policy) allowed(a netip.Addr) bool {
	for _, pr := range p.allow {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

func deniedRange(a netip.Addr) string {
	for _, d := range denied {
		if d.prefix.Contains(a) {
			return d.name
		}
	}
	return ""
}

// Control is a net.Dialer Control function: it runs after DNS resolution,
// on the very address about to be connected, so a name that resolves to
// a public address when checked and a private one when dialled (DNS
// rebinding) is still refused.
func (p *Policy) Control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("netguard: dialling %q: %w", address, err)
	}
	return p.Check(a)
}
