// The Go side of bench/parse_vs_go.sh: what a Go exporter (x509-certificate-exporter,
// ssl_exporter) does per certificate, pem.Decode then x509.ParseCertificate, timed the way the
// C++ side (crdb-certwatch-bench-parse) times itself. Standard library only.
//
//	go run parse_certs.go DIR BUNDLE REPEATS
//
// Prints one line of key=value pairs: certs, then for parse (files already in memory), e2e (list,
// read, parse) and bundle (the one bundle file, in memory) the wall time (<name>_us) and this
// process's CPU time, every thread (<name>_cpu_us); each the minimum over REPEATS passes, in
// microseconds per certificate. CPU time is what compares on a machine other work shares.
package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// parseAll parses every CERTIFICATE block of every buffer; the sum of notAfter years keeps the
// work observable.
func parseAll(buffers [][]byte) (certs int, yearSum int) {
	for _, rest := range buffers {
		for {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			if block.Type != "CERTIFICATE" {
				continue
			}
			cert, err := x509.ParseCertificate(block.Bytes)
			check(err)
			certs++
			yearSum += cert.NotAfter.Year()
		}
	}
	return certs, yearSum
}

func readDir(dir string) [][]byte {
	entries, err := os.ReadDir(dir)
	check(err)
	var buffers [][]byte
	for _, entry := range entries {
		if !strings.HasSuffix(entry.Name(), ".crt") {
			continue
		}
		bytes, err := os.ReadFile(filepath.Join(dir, entry.Name()))
		check(err)
		buffers = append(buffers, bytes)
	}
	return buffers
}

func cpuMicroseconds() float64 {
	var usage syscall.Rusage
	check(syscall.Getrusage(syscall.RUSAGE_SELF, &usage))
	return float64(usage.Utime.Nano()+usage.Stime.Nano()) / 1e3
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// timing is the fastest of several passes, microseconds per certificate.
type timing struct{ wall, cpu float64 }

func (t timing) String(name string) string {
	return fmt.Sprintf("%s_us=%.2f %s_cpu_us=%.2f", name, t.wall, name, t.cpu)
}

// minPerCert runs pass `repeats` times and returns the fastest wall and CPU times.
func minPerCert(repeats int, pass func() int) (timing, int) {
	best := timing{-1, -1}
	certs := 0
	for i := 0; i < repeats; i++ {
		cpuStart := cpuMicroseconds()
		start := time.Now()
		certs = pass()
		wall := float64(time.Since(start).Nanoseconds()) / 1e3 / float64(certs)
		cpu := (cpuMicroseconds() - cpuStart) / float64(certs)
		if best.wall < 0 || wall < best.wall {
			best.wall = wall
		}
		if best.cpu < 0 || cpu < best.cpu {
			best.cpu = cpu
		}
	}
	return best, certs
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: parse_certs DIR BUNDLE REPEATS")
		os.Exit(2)
	}
	dir, bundlePath := os.Args[1], os.Args[2]
	repeats, err := strconv.Atoi(os.Args[3])
	if err != nil || repeats < 1 {
		repeats = 5
	}
	years := 0
	count := func(buffers [][]byte) int {
		certs, sum := parseAll(buffers)
		years += sum
		return certs
	}
	files := readDir(dir)
	parseUs, certs := minPerCert(repeats, func() int { return count(files) })
	e2eUs, _ := minPerCert(repeats, func() int { return count(readDir(dir)) })
	bundle, err := os.ReadFile(bundlePath)
	check(err)
	bundleUs, _ := minPerCert(repeats, func() int { return count([][]byte{bundle}) })
	fmt.Printf("certs=%d %s %s %s years=%d\n", certs, parseUs.String("parse"), e2eUs.String("e2e"),
		bundleUs.String("bundle"), years)
}
