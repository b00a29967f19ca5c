package main

import (
	"net"
	"net/netip"
)

// canBind reports whether a is a local address this machine can bind to.
func canBind(a netip.Addr) bool {
	ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(a.Unmap(), 0)))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}
