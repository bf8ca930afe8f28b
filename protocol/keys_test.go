package protocol

import (
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// opensslKeyPEM is a 1024-bit key made by `openssl genrsa -traditional`; opensslKeyXML holds the same
// key's fields (read with `openssl rsa -text`) in .NET's RSA XML layout, indented and wrapped as an
// editor would leave it, with the CRT values unpadded. Two independent encodings of one key.
const opensslKeyPEM = `-----BEGIN RSA PRIVATE KEY-----
MIICXAIBAAKBgQDl/waLxKtIhuKtijQ0Mb+UeLpvVEkeQlZ0vby0Zla/5kg7olBZ
I6PelO30R/IqWLPXj4A60c1CYTwh4TV4ykENgUWqj9Ju21uKzkbSHY/58gT1HewN
pCYx0lsEZVxhFucP2ijYU/kbZmHE3HIXFLa7XtbVGIs2/hnj+PrPMi3jNQIDAQAB
AoGAGsfCLF4fD5fdJxXTlExCoXgZRUNMLEDPLlK1eU/9Q+T9fiwdLPPwbcdrmakS
8olXj37/EFpDizolNVCy2Di8sCxdi53NDhyYNh/a6+XlWG3f6TICt+bR/DHV43Ah
oqj/1sBrxyPDj0tOtJa4bQtWU17m5fgpOCMfYGFlzKLl9yECQQD02mjlKbBa7sXc
iYVSphab95wDaeM9aRjSN9jdi9TwP12RKMb0dZhKzVFrnDkuUC9/I8aTu9ntAR0Z
MEcqH24tAkEA8Hd35q+5lPqEMhTvGdepMO/1TYDcN8axE6i/GtEXWe6oUBg0AmVz
pZgCrHtuVFKpn2nk6wXEcsT+AAYtbh72KQJAPvysfT8jMdE4rwnldSRqroac6Lfl
kBeoHfPl4uAk0ATM8hmWTK6vlZaJum/+ua5A+ajfXYO2hOSDcsZbmDdrpQJAEYrV
n2mgY0LnU/P9AWifOie3QIEvD46aKnH8BwvL5U6ozrcFTEt0ZVcykryqbtJc93k1
LwQLsce3M+8/bzIpCQJBAIowuObqHP0SH1T1KhQWFgtRLTW09MDPqoRL+IDbz8UX
QP8jxSzovD/hZcPXDfbUy16GJEfvW+ckYemm1gUf+DM=
-----END RSA PRIVATE KEY-----
`

const opensslKeyXML = "\xef\xbb\xbf" + `<RSAKeyValue>
  <Modulus>5f8Gi8SrSIbirYo0NDG/lHi6b1RJHkJWdL28tGZWv+ZIO6JQWSOj3pTt9EfyKliz14+AOtHNQmE8IeE1
    eMpBDYFFqo/Sbttbis5G0h2P+fIE9R3sDaQmMdJbBGVcYRbnD9oo2FP5G2ZhxNxyFxS2u17W1RiLNv4Z4/j6zzIt4zU=</Modulus>
  <Exponent>AQAB</Exponent>
  <P>9Npo5SmwWu7F3ImFUqYWm/ecA2njPWkY0jfY3YvU8D9dkSjG9HWYSs1Ra5w5LlAvfyPGk7vZ7QEdGTBHKh9uLQ==</P>
  <Q>8Hd35q+5lPqEMhTvGdepMO/1TYDcN8axE6i/GtEXWe6oUBg0AmVzpZgCrHtuVFKpn2nk6wXEcsT+AAYtbh72KQ==</Q>
  <DP>PvysfT8jMdE4rwnldSRqroac6LflkBeoHfPl4uAk0ATM8hmWTK6vlZaJum/+ua5A+ajfXYO2hOSDcsZbmDdrpQ==</DP>
  <DQ>EYrVn2mgY0LnU/P9AWifOie3QIEvD46aKnH8BwvL5U6ozrcFTEt0ZVcykryqbtJc93k1LwQLsce3M+8/bzIpCQ==</DQ>
  <InverseQ>ijC45uoc/RIfVPUqFBYWC1EtNbT0wM+qhEv4gNvPxRdA/yPFLOi8P+Flw9cN9tTLXoYkR+9b5yRh6abWBR/4Mw==</InverseQ>
  <D>GsfCLF4fD5fdJxXTlExCoXgZRUNMLEDPLlK1eU/9Q+T9fiwdLPPwbcdrmakS8olXj37/EFpDizolNVCy2Di8sCxdi53NDhyYNh/a6+XlWG3f6TICt+bR/DHV43Ahoqj/1sBrxyPDj0tOtJa4bQtWU17m5fgpOCMfYGFlzKLl9yE=</D>
</RSAKeyValue>
`

func TestParsePrivateKeyForms(t *testing.T) {
	want, err := ParsePrivateKey([]byte(opensslKeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	if want.N.BitLen() != 1024 || want.E != 65537 {
		t.Fatalf("PEM key: %d bits, e=%d", want.N.BitLen(), want.E)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(want)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		data string
	}{
		{"dotnet xml", opensslKeyXML},
		{"pkcs1 pem", opensslKeyPEM},
		{"pkcs8 pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))},
		{"pem after other blocks", "junk\n" + string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}})) + opensslKeyPEM},
		{"our xml", string(MarshalRSAXML(want))},
		{"xml without CRT values", dropElements(opensslKeyXML, "DP", "DQ", "InverseQ")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParsePrivateKey([]byte(c.data))
			if err != nil {
				t.Fatalf("ParsePrivateKey: %v", err)
			}
			if !got.Equal(want) {
				t.Fatal("key differs")
			}
			if err := got.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// dropElements removes the named elements of an RSA XML text.
func dropElements(s string, names ...string) string {
	for _, n := range names {
		i := strings.Index(s, "<"+n+">")
		j := strings.Index(s, "</"+n+">")
		s = s[:i] + s[j+len(n)+3:]
	}
	return s
}

func TestParsePrivateKeyErrors(t *testing.T) {
	_, edKey, _ := ed25519.GenerateKey(nil)
	edDER, _ := x509.MarshalPKCS8PrivateKey(edKey)
	cases := []struct {
		name, data, want string
	}{
		{"garbage", "hello", "neither RSA XML nor a PEM private key"},
		{"empty", "", "neither RSA XML nor a PEM private key"},
		{"public xml", dropElements(opensslKeyXML, "P", "Q", "DP", "DQ", "InverseQ", "D"), "has no <P>"},
		{"bad base64", strings.Replace(opensslKeyXML, "<D>Gsf", "<D>G*f", 1), "<D>: bad base64"},
		{"wrong D", strings.Replace(opensslKeyXML, "<D>Gsf", "<D>Gsg", 1), "private key: RSA XML:"},
		{"wrong DP", strings.Replace(opensslKeyXML, "<DP>Pvy", "<DP>Pvz", 1), "<DP> does not match"},
		{"wrong InverseQ", strings.Replace(opensslKeyXML, "<InverseQ>ijC", "<InverseQ>ijD", 1), "<InverseQ> does not match"},
		{"even exponent", strings.Replace(opensslKeyXML, "AQAB", "AQAC", 1), "not a valid public exponent"},
		{"broken xml", "<RSAKeyValue><Modulus>", "RSA XML"},
		{"ed25519 pkcs8", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: edDER})), "want RSA"},
		{"encrypted", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n", "encrypted PEM"},
		{"bad pkcs1", "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n", "PKCS#1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParsePrivateKey([]byte(c.data))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestParsePublicKey(t *testing.T) {
	priv, err := ParsePrivateKey([]byte(opensslKeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	pkix, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	devCert, _ := os.ReadFile("../testdata/superoffice/SuperOfficeFederatedLogin-Development.crt")
	certs, _ := LoadCertificates("development")
	cases := []struct {
		name string
		data string
		want *rsa.PublicKey
	}{
		{"xml", string(MarshalRSAXMLPublic(&priv.PublicKey)), &priv.PublicKey},
		{"private xml", opensslKeyXML, &priv.PublicKey},
		{"pkix pem", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})), &priv.PublicKey},
		{"pkcs1 pem", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&priv.PublicKey)})), &priv.PublicKey},
		{"certificate", string(devCert), certs[0].PublicKey.(*rsa.PublicKey)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParsePublicKey([]byte(c.data))
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(c.want) {
				t.Fatal("key differs")
			}
		})
	}
	for _, bad := range []string{"", "x", "<RSAKeyValue><Exponent>AQAB</Exponent></RSAKeyValue>", "<RSAKeyValue><Modulus>AQAB</Modulus><Exponent>AQAB</Exponent></RSAKeyValue>"} {
		if _, err := ParsePublicKey([]byte(bad)); err == nil {
			t.Errorf("ParsePublicKey(%q) succeeded", bad)
		}
	}
}

func TestMarshalRSAXMLLayout(t *testing.T) {
	key, _ := testKeys(t)
	var kv rsaKeyValue
	if err := xml.Unmarshal(MarshalRSAXML(key), &kv); err != nil {
		t.Fatal(err)
	}
	// .NET's ImportParameters rejects fields that are not exactly these lengths.
	lengths := map[string]struct {
		text string
		n    int
	}{
		"Modulus": {kv.Modulus, 256}, "D": {kv.D, 256}, "P": {kv.P, 128}, "Q": {kv.Q, 128},
		"DP": {kv.DP, 128}, "DQ": {kv.DQ, 128}, "InverseQ": {kv.InverseQ, 128}, "Exponent": {kv.Exponent, 3},
	}
	for name, f := range lengths {
		b, err := base64.StdEncoding.DecodeString(f.text)
		if err != nil || len(b) != f.n {
			t.Errorf("%s: %d bytes (%v), want %d", name, len(b), err, f.n)
		}
	}
	if !strings.HasPrefix(string(MarshalRSAXML(key)), "<RSAKeyValue><Modulus>") {
		t.Errorf("layout: %.40s", MarshalRSAXML(key))
	}
	pub := string(MarshalRSAXMLPublic(&key.PublicKey))
	if strings.Contains(pub, "<D>") || !strings.HasSuffix(pub, "<Exponent>AQAB</Exponent></RSAKeyValue>") {
		t.Errorf("public XML: %s", pub)
	}
}

func TestGenerateKeyPairBits(t *testing.T) {
	for _, bits := range []int{512, 1024, 16384} {
		if _, err := GenerateKeyPair(bits); err == nil {
			t.Errorf("GenerateKeyPair(%d) succeeded", bits)
		}
	}
}

func TestWriteKeyPair(t *testing.T) {
	key, _ := testKeys(t)
	dir := t.TempDir()
	paths, err := WriteKeyPair(dir, "app", key)
	if err != nil {
		t.Fatal(err)
	}
	wantNames := []string{"app.private.xml", "app.public.xml", "app.private.pem", "app.public.pem"}
	if len(paths) != len(wantNames) {
		t.Fatalf("paths %v", paths)
	}
	for i, p := range paths {
		if filepath.Base(p) != wantNames[i] {
			t.Errorf("path %s, want %s", p, wantNames[i])
		}
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		private := strings.Contains(p, "private")
		if private && st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", p, st.Mode().Perm())
		}
		data, _ := os.ReadFile(p)
		if private {
			got, err := LoadPrivateKey(p)
			if err != nil || !got.Equal(key) {
				t.Errorf("%s: reload: %v", p, err)
			}
		} else if got, err := ParsePublicKey(data); err != nil || !got.Equal(&key.PublicKey) {
			t.Errorf("%s: reload: %v", p, err)
		}
	}
	// A second run must not touch the existing files, nor write the ones that are missing.
	before, _ := os.ReadFile(paths[0])
	if err := os.Remove(paths[3]); err != nil {
		t.Fatal(err)
	}
	other, _ := testKeys(t)
	if _, err := WriteKeyPair(dir, "app", other); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("overwrite: %v", err)
	}
	after, _ := os.ReadFile(paths[0])
	if string(before) != string(after) {
		t.Error("existing file changed")
	}
	if _, err := os.Stat(paths[3]); err == nil {
		t.Error("a missing file was written although others existed")
	}
	for _, bad := range []string{"", "a/b", ".."} {
		if _, err := WriteKeyPair(dir, bad, key); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
	if _, err := LoadPrivateKey(filepath.Join(dir, "missing.pem")); err == nil {
		t.Error("LoadPrivateKey of a missing file succeeded")
	}
}
