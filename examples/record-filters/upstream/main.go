// Command upstream is a stand-in HR API for the record-filters example. It
// knows nothing about users or permissions: it serves every employee to
// anyone who has the API's token, and leaves the filtering to gatehouse.
//
//	GET  /employees       {"data":[…],"total":N}
//	GET  /employees/{id}  one employee, or 404
//	POST /employees       201 with the new employee (not stored)
//
// When HR_API_TOKEN is set, every request must carry
// "Authorization: Bearer $HR_API_TOKEN" (gatehouse adds it from a secret
// lookup; clients never see it), else 401. It listens on 127.0.0.1:9002 and
// logs one line per request to standard error.
package main

import (
	"crypto/subtle"
	"encoding/json"
	"log"
	"net/http"
	"os"
	"strconv"
)

type employee struct {
	ID         int    `json:"id"`
	Name       string `json:"name"`
	Department string `json:"department"`
	Level      int    `json:"level"`
	Email      string `json:"email"`
	Salary     int    `json:"salary"`
}

var employees = []employee{
	{1, "Ada", "sales", 2, "ada@example.test", 5200},
	{2, "Bo", "ops", 1, "bo@example.test", 4100},
	{3, "Cy", "sales", 5, "cy@example.test", 6100},
	{4, "Di", "sales", 3, "di@example.test", 5600},
	{5, "Ed", "ops", 4, "ed@example.test", 4700},
	{6, "Flo", "hr", 2, "flo@example.test", 4900},
}

func main() {
	token := os.Getenv("HR_API_TOKEN")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /employees", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"data": employees, "total": len(employees)})
	})
	mux.HandleFunc("GET /employees/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		for _, e := range employees {
			if e.ID == id {
				writeJSON(w, http.StatusOK, e)
				return
			}
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such employee"})
	})
	mux.HandleFunc("POST /employees", func(w http.ResponseWriter, r *http.Request) {
		var e employee
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&e); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad employee"})
			return
		}
		e.ID = len(employees) + 1
		writeJSON(w, http.StatusCreated, e)
	})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		authorized := token == "" || subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+token)) == 1
		log.Printf("upstream: %s %s tenant=%q role=%q token_ok=%t", r.Method, r.URL.Path,
			r.Header.Get("X-Tenant"), r.Header.Get("X-Gatehouse-Role"), authorized)
		if !authorized {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong API token"})
			return
		}
		mux.ServeHTTP(w, r)
	})
	const addr = "127.0.0.1:9002"
	log.Printf("upstream: HR API on http://%s", addr)
	log.Fatal(http.ListenAndServe(addr, handler))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		log.Printf("upstream: write: %v", err)
	}
}
