// Command bareclient is the benchmark's reference: the least a Go DNSBL
// client does. Workers (one UDP socket each) send an A query per (address,
// zone) pair of an IPv4 prefix against bl0…bl<N-1>.bench.test, and a TXT
// query when the answer is a listing. No health checks, no report.
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

func query(id uint16, name string, qtype uint16) []byte {
	b := binary.BigEndian.AppendUint16(nil, id)
	b = append(b, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0) // RD, one question
	for start := 0; start <= len(name); start++ {
		end := start
		for end < len(name) && name[end] != '.' {
			end++
		}
		b = append(append(b, byte(end-start)), name[start:end]...)
		start = end
	}
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(append(b, 0), qtype), 1)
}

func main() {
	server := flag.String("server", "127.0.0.1:5353", "DNS server")
	prefix := flag.String("prefix", "10.1.0.0/24", "IPv4 prefix")
	zones := flag.Int("zones", 40, "zones bl0.bench.test …")
	conc := flag.Int("concurrency", 1024, "queries in flight")
	flag.Parse()
	pf := netip.MustParsePrefix(*prefix)
	names := make(chan string, 4096)
	go func() {
		for a := pf.Addr(); pf.Contains(a); a = a.Next() {
			v := a.As4()
			for z := 0; z < *zones; z++ {
				names <- fmt.Sprintf("%d.%d.%d.%d.bl%d.bench.test", v[3], v[2], v[1], v[0], z)
			}
		}
		close(names)
	}()
	var wg sync.WaitGroup
	var sent, failed atomic.Int64
	start := time.Now()
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("udp", *server)
			if err != nil {
				panic(err)
			}
			buf, id := make([]byte, 1500), uint16(w)
			ask := func(name string, qt uint16) (int, bool) {
				for try := 0; try < 2; try++ {
					id++
					sent.Add(1)
					_, _ = c.Write(query(id, name, qt)) // a lost query shows as the read timeout below
					c.SetReadDeadline(time.Now().Add(2 * time.Second))
					for {
						n, err := c.Read(buf)
						if err != nil {
							break
						}
						if n >= 12 && binary.BigEndian.Uint16(buf) == id {
							return int(binary.BigEndian.Uint16(buf[6:])), true
						}
					}
				}
				failed.Add(1)
				return 0, false
			}
			for name := range names {
				if an, ok := ask(name, 1); ok && an > 0 {
					ask(name, 16) // TXT reason of a listing
				}
			}
		}()
	}
	wg.Wait()
	fmt.Printf("bareclient: %d queries, %d failed, %.3f s\n", sent.Load(), failed.Load(), time.Since(start).Seconds())
}
