// Temporary helper of bench/parse_vs_go.sh until crdb-certwatch-gencerts writes mixed keys
// (issue 12): N certificates with RSA-2048, RSA-4096 and P-256 keys in turn, signed by one P-256
// CA, with the SANs and usages `cockroach cert` writes; one PEM file per certificate in DIR
// (the CA as ca.crt) and all of them in BUNDLE. Three keys are made and reused: key generation is
// not what is measured.
//
//	go run gen_certs.go DIR BUNDLE N
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: gen_certs DIR BUNDLE N")
		os.Exit(2)
	}
	dir, bundlePath := os.Args[1], os.Args[2]
	count, err := strconv.Atoi(os.Args[3])
	check(err)
	check(os.MkdirAll(dir, 0o755))

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(err)
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	check(err)
	rsa4096, err := rsa.GenerateKey(rand.Reader, 4096)
	check(err)
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(err)
	leafKeys := []crypto.Signer{rsa2048, rsa4096, p256}

	now := time.Now()
	caTemplate := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"Cockroach"}, CommonName: "Cockroach CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, caKey.Public(), caKey)
	check(err)
	ca, err := x509.ParseCertificate(caDER)
	check(err)

	bundle, err := os.Create(bundlePath)
	check(err)
	defer bundle.Close()
	write := func(name string, der []byte) {
		block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		check(os.WriteFile(filepath.Join(dir, name), block, 0o644))
		_, err := bundle.Write(block)
		check(err)
	}
	write("ca.crt", caDER)
	daysLeft := []int{-3, 12, 60, 400, 700, 1200}
	for i := 1; i < count; i++ {
		user := "user" + strconv.Itoa(i)
		template := &x509.Certificate{
			SerialNumber: big.NewInt(int64(1000 + i)),
			Subject:      pkix.Name{Organization: []string{"Cockroach"}, CommonName: user},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.AddDate(0, 0, daysLeft[i%len(daysLeft)]),
			KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			DNSNames:     []string{user + ".example.internal", "localhost"},
			IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		}
		key := leafKeys[i%len(leafKeys)]
		der, err := x509.CreateCertificate(rand.Reader, template, ca, key.Public(), caKey)
		check(err)
		write("client."+user+".crt", der)
	}
	fmt.Printf("wrote %d certificates to %s and %s\n", count, dir, bundlePath)
}
