// Makes Postern QR codes (credential format version 1) with a shared secret.
// Go 1.13 or later, standard library only. Usage:
//
//	go run make_code.go link        ISSUER SECRET_HEX SUBJECT SCOPE NOT_BEFORE NOT_AFTER|never
//	go run make_code.go online-link ISSUER SECRET_HEX SUBJECT SCOPE NOT_BEFORE NOT_AFTER|never
//	go run make_code.go rotating    ISSUER SECRET_HEX SUBJECT SCOPE [UNIX_TIME]
//	go run make_code.go rotating-key SECRET_HEX SUBJECT
//
// Times are unix seconds. For a partner, ISSUER is its partner id and SECRET_HEX its shared
// secret. A rotating code of issuer 0 is a site badge: SECRET_HEX is then that badge's own secret.
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"time"
)

var kinds = map[string]byte{"link": 0x01, "rotating": 0x02, "online-link": 0x03}

const noEnd = 0xFFFFFFFF
const periodSeconds = 15

// makeCode gives the 24 signed bytes, their MAC (16 bytes), as text: "P1." and 64 base32 characters.
func makeCode(key []byte, kind string, issuer uint16, subject uint64, a, b, scope uint32) string {
	code := make([]byte, 24, 40)
	code[0] = 0x01 // version
	code[1] = kinds[kind]
	binary.BigEndian.PutUint16(code[2:], issuer)
	binary.BigEndian.PutUint64(code[4:], subject)
	binary.BigEndian.PutUint32(code[12:], a)
	binary.BigEndian.PutUint32(code[16:], b)
	binary.BigEndian.PutUint32(code[20:], scope)
	mac := hmac.New(sha256.New, key)
	mac.Write(code)
	code = append(code, mac.Sum(nil)[:16]...)
	return "P1." + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(code)
}

// rotatingKey is the key of a partner's rotating credential: HMAC-SHA256(secret, "postern/rotating/v1" || subject).
func rotatingKey(partnerSecret []byte, subject uint64) []byte {
	mac := hmac.New(sha256.New, partnerSecret)
	mac.Write([]byte("postern/rotating/v1"))
	var subjectBytes [8]byte
	binary.BigEndian.PutUint64(subjectBytes[:], subject)
	mac.Write(subjectBytes[:])
	return mac.Sum(nil)
}

// makeLink gives a link valid from notBefore to notAfter (unix seconds; noEnd for no end).
func makeLink(secret []byte, issuer uint16, subject uint64, scope, notBefore, notAfter uint32, onlineOnly bool) string {
	kind := "link"
	if onlineOnly {
		kind = "online-link"
	}
	return makeCode(secret, kind, issuer, subject, notBefore, notAfter, scope)
}

// makeRotating gives the rotating code of the 15-second step that holds unixSeconds.
func makeRotating(secret []byte, issuer uint16, subject uint64, scope uint32, unixSeconds int64) string {
	key := secret
	if issuer != 0 {
		key = rotatingKey(secret, subject)
	}
	return makeCode(key, "rotating", issuer, subject, uint32(unixSeconds/periodSeconds), 0, scope)
}

func number(text string, bits int) uint64 {
	n, err := strconv.ParseUint(text, 10, bits)
	if err != nil {
		fail(err.Error())
	}
	return n
}

func secretBytes(text string) []byte {
	secret, err := hex.DecodeString(text)
	if err != nil {
		fail("SECRET_HEX: " + err.Error())
	}
	return secret
}

func fail(message string) {
	fmt.Fprintln(os.Stderr, message)
	fmt.Fprintln(os.Stderr, "usage: go run make_code.go link|online-link ISSUER SECRET_HEX SUBJECT SCOPE NOT_BEFORE NOT_AFTER|never")
	fmt.Fprintln(os.Stderr, "       go run make_code.go rotating ISSUER SECRET_HEX SUBJECT SCOPE [UNIX_TIME]")
	fmt.Fprintln(os.Stderr, "       go run make_code.go rotating-key SECRET_HEX SUBJECT")
	os.Exit(2)
}

func main() {
	args := os.Args[1:]
	if len(args) == 3 && args[0] == "rotating-key" {
		fmt.Println(hex.EncodeToString(rotatingKey(secretBytes(args[1]), number(args[2], 64))))
		return
	}
	if len(args) < 5 {
		fail("missing arguments")
	}
	command, times := args[0], args[5:]
	issuer, secret := uint16(number(args[1], 16)), secretBytes(args[2])
	subject, scope := number(args[3], 64), uint32(number(args[4], 32))
	switch {
	case (command == "link" || command == "online-link") && len(times) == 2:
		notAfter := uint32(noEnd)
		if times[1] != "never" {
			notAfter = uint32(number(times[1], 32))
		}
		fmt.Println(makeLink(secret, issuer, subject, scope, uint32(number(times[0], 32)), notAfter, command == "online-link"))
	case command == "rotating" && len(times) <= 1:
		now := time.Now().Unix()
		if len(times) == 1 {
			now = int64(number(times[0], 63))
		}
		fmt.Println(makeRotating(secret, issuer, subject, scope, now))
	default:
		fail("unknown command or wrong number of arguments")
	}
}
