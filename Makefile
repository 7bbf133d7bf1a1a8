# The two commands: `make run` and `make test`. Everything else is a step of theirs.
SHELL := /bin/bash
export PATH := $(PATH):/opt/swift/usr/bin
SWIFT ?= swift

.PHONY: run test setup services stop status build release bench bench-healthz bench-sse bench-joins bench-reserve bench-orders bench-hold bench-latency onsale load-build clean

## make run: install what is missing, start local Redis and PostgreSQL, build (release),
## migrate, create the demo event and serve it on http://127.0.0.1:8080
run: services release
	scripts/run.sh

## make test: install what is missing, start the services, run the whole suite
test: services
	scripts/test.sh

setup:
	scripts/services.sh install

services: setup
	scripts/services.sh start

stop:
	scripts/services.sh stop

status:
	scripts/services.sh status

build:
	$(SWIFT) build

release:
	$(SWIFT) build -c release --product waitroomd

## make bench: every benchmark in LoadTests/ (prints tables; results in LoadTests/results/)
bench: bench-healthz bench-joins bench-sse bench-hold bench-latency bench-reserve bench-orders

bench-healthz: services release
	LoadTests/bench-healthz.sh

load-build:
	$(SWIFT) build -c release --product waitroom-load

## SSE fan-out against Nchan: SUBSCRIBERS (20000) for WINDOW seconds (20)
bench-sse: services release load-build
	LoadTests/bench-sse-nchan.sh $${SUBSCRIBERS:-20000} $${WINDOW:-20} --target both

bench-joins: services release load-build
	LoadTests/bench-joins.sh

## Reservations on one hot class against pgbench's five-statement transaction (same PostgreSQL)
bench-reserve: services release load-build
	LoadTests/bench-reserve.sh

## 1,000 confirms through the order saga with 200 ms of simulated payment latency
bench-orders: services release
	LoadTests/bench-orders.sh

## 100,000 waiters holding SSE streams while admission runs at 1,000/s: STREAMS (100000) for WINDOW seconds (30)
bench-hold: services release load-build
	LoadTests/bench-hold.sh $${STREAMS:-100000} $${WINDOW:-30}

## Update latency: 20,000 streams while admission runs at 200/s (a tick every 100 ms moves every
## position): p99 from the tick to the frame at the client, overall and after the opening bursts
bench-latency: services release load-build
	ADMISSION_RATE=$${ADMISSION_RATE:-200} LoadTests/bench-hold.sh $${STREAMS:-20000} $${WINDOW:-30}

## The on-sale load test: USERS (50000) hold streams, buy TICKETS (5000) until sold out; checks,
## table, LoadTests/results/onsale-USERS-TICKETS.{json,html}
onsale: services release load-build
	LoadTests/onsale.sh $${USERS:-50000} $${TICKETS:-5000}

clean:
	rm -rf .build
