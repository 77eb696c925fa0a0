/* gresec-controller: the topology and policy store behind the REST API. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "api.h"
#include "auth.h"
#include "ca.h"
#include "pki.h"
#include "http.h"
#include "longpoll.h"
#include <sys/socket.h>
#include "log.h"
#include "store.h"

/* Where make install puts the topology map (the Makefile passes $(PREFIX)'s). */
#ifndef GRESEC_UI_DIR
#define GRESEC_UI_DIR "/usr/local/share/gresec/ui"
#endif

/* What a client without a token may send as a body (only /healthz takes none). */
#define MAIN_UNAUTH_BODY 4096

struct main_opts {
	const char *db;
	const char *listen;
	const char *token_file;
	const char *tls_cert, *tls_key;
	const char *ca_cert, *ca_key;
	const char *tls_client_ca;
	unsigned cert_lifetime;
	size_t max_body;
	unsigned max_conns, max_per_client, client_timeout;
	enum log_level level;
	struct addr_prefix pool;
	unsigned stale_after;
	unsigned poll_timeout;
	const char *ui_dir;
};

static void main_usage(FILE *f)
{
	fprintf(f,
		"usage: gresec-controller [--db FILE] [--listen HOST:PORT] [--admin-token-file FILE]\n"
		"                         [--tls-cert FILE --tls-key FILE] [--log-level LEVEL]\n"
		"                         [--ca-cert FILE --ca-key FILE] [--cert-lifetime SECONDS]\n"
		"                         [--tls-client-ca FILE]\n"
		"                         [--max-body BYTES] [--max-connections N]\n"
		"                         [--max-connections-per-client N] [--client-timeout SECONDS]\n"
		"  --db FILE               SQLite database (default /var/lib/gresec/gresec.db)\n"
		"  --listen HOST:PORT      address to serve the API on (default 127.0.0.1:8080)\n"
		"  --admin-token-file FILE where the first admin token is written (default: beside the db)\n"
		"  --tls-cert/--tls-key    serve HTTPS with this PEM certificate and key\n"
		"  --tls-client-ca FILE    ask HTTPS clients for a certificate issued by this CA\n"
		"                          (the controller's ca.pem): an agent presenting its site\n"
		"                          certificate needs no token\n"
		"  --ca-cert/--ca-key      the CA that signs the sites' IKE certificates (an enterprise\n"
		"                          CA or intermediate; default: ca.pem and ca.key beside the\n"
		"                          db, made at first start)\n"
		"  --cert-lifetime SECONDS validity of a site certificate (default 2592000, 30 days;\n"
		"                          agents renew at two thirds of it)\n"
		"  --log-level LEVEL       error, warn, info (default) or debug\n"
		"  --max-body BYTES        largest request body accepted (default 33554432)\n"
		"  --max-connections N     concurrent connections (default 4096, or what the open-file\n"
		"                          limit holds less 64; LimitNOFILE= in the unit)\n"
		"  --max-connections-per-client N\n"
		"                          concurrent connections from one address (default 64)\n"
		"  --client-timeout SECONDS  time for a request's headers, idle time between\n"
		"                          requests, and grace before a body must arrive at\n"
		"                          64 KiB/s (default 15)\n"
		"  --overlay-pool CIDR     tunnel overlay addresses: /31s of an IPv4 or /127s of an\n"
		"                          IPv6 pool (default 100.64.0.0/10)\n"
		"  --stale-after SECONDS   a site whose agent has not reported for this long is stale\n"
		"                          (default 90)\n"
		"  --poll-timeout SECONDS  how long an agent's intent request is held (default 30)\n"
		"  --ui-dir DIR            the topology map's files, served at /ui/\n"
		"                          (default " GRESEC_UI_DIR ")\n");
}

static const struct option main_longopts[] = {
	{ "db", required_argument, NULL, 'd' },
	{ "listen", required_argument, NULL, 'l' },
	{ "admin-token-file", required_argument, NULL, 't' },
	{ "tls-cert", required_argument, NULL, 'c' },
	{ "tls-key", required_argument, NULL, 'k' },
	{ "log-level", required_argument, NULL, 'v' },
	{ "max-body", required_argument, NULL, 'b' },
	{ "max-connections", required_argument, NULL, 'n' },
	{ "max-connections-per-client", required_argument, NULL, 'm' },
	{ "client-timeout", required_argument, NULL, 'T' },
	{ "overlay-pool", required_argument, NULL, 'p' },
	{ "stale-after", required_argument, NULL, 's' },
	{ "poll-timeout", required_argument, NULL, 'w' },
	{ "ui-dir", required_argument, NULL, 'u' },
	{ "ca-cert", required_argument, NULL, 'C' },
	{ "ca-key", required_argument, NULL, 'K' },
	{ "cert-lifetime", required_argument, NULL, 'L' },
	{ "tls-client-ca", required_argument, NULL, 'A' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* A whole number from lo to hi for option c, or a message naming the option. */
static int main_number(int c, const char *arg, unsigned long long lo, unsigned long long hi,
		       unsigned long long *out)
{
	const char *name = "?";
	char *end;

	for (const struct option *o = main_longopts; o->name; o++)
		if (o->val == c)
			name = o->name;
	errno = 0;
	*out = strtoull(arg, &end, 10);
	if (!*arg || *end || errno || *arg == '-' || *out < lo || *out > hi) {
		fprintf(stderr, "--%s: expected a whole number from %llu to %llu\n", name, lo, hi);
		return -EINVAL;
	}
	return 0;
}

/* The options that take a value to check; 0, or -EINVAL with the reason printed. */
static int main_option(int c, const char *arg, struct main_opts *o)
{
	unsigned long long n = 0;
	int r = 0;

	switch (c) {
	case 'v':
		if ((r = log_level_parse(arg, &o->level)) < 0)
			fprintf(stderr, "--log-level: expected error, warn, info or debug\n");
		break;
	case 'p':
		if (addr_prefix_parse(arg, &o->pool) < 0 ||
		    o->pool.len > (o->pool.addr.family == AF_INET ? 31 : 127)) {
			fprintf(stderr, "--overlay-pool: expected an IPv4 or IPv6 prefix (host bits "
				"clear) with room for one /31 or /127\n");
			r = -EINVAL;
		}
		break;
	case 'b':
		if ((r = main_number(c, arg, 1024, 1ULL << 32, &n)) == 0)
			o->max_body = (size_t)n;
		break;
	case 'n':
		if ((r = main_number(c, arg, 16, 1000000, &n)) == 0)
			o->max_conns = (unsigned)n;
		break;
	case 'm':
		if ((r = main_number(c, arg, 1, 1000000, &n)) == 0)
			o->max_per_client = (unsigned)n;
		break;
	case 'T':
		if ((r = main_number(c, arg, 1, 3600, &n)) == 0)
			o->client_timeout = (unsigned)n;
		break;
	case 'L':
		if ((r = main_number(c, arg, 60, 10ULL * 365 * 86400, &n)) == 0)
			o->cert_lifetime = (unsigned)n;
		break;
	case 's':
	case 'w':
		if ((r = main_number(c, arg, 1, 86400, &n)) == 0)
			*(c == 's' ? &o->stale_after : &o->poll_timeout) = (unsigned)n;
		break;
	}
	return r;
}

static int main_parse(int argc, char **argv, struct main_opts *o)
{
	int c;

	while ((c = getopt_long(argc, argv, "h", main_longopts, NULL)) != -1) {
		switch (c) {
		case 'd': o->db = optarg; break;
		case 'l': o->listen = optarg; break;
		case 't': o->token_file = optarg; break;
		case 'c': o->tls_cert = optarg; break;
		case 'k': o->tls_key = optarg; break;
		case 'u': o->ui_dir = optarg; break;
		case 'C': o->ca_cert = optarg; break;
		case 'K': o->ca_key = optarg; break;
		case 'A': o->tls_client_ca = optarg; break;
		case 'h':
			main_usage(stdout);
			exit(0);
		case '?':
			main_usage(stderr);
			return -EINVAL;
		default:
			if (main_option(c, optarg, o) < 0)
				return -EINVAL;
		}
	}
	if (optind < argc || !o->tls_cert != !o->tls_key) {
		fprintf(stderr, optind < argc ? "unexpected argument: %s\n" :
			"--tls-cert and --tls-key go together%s\n", optind < argc ? argv[optind] : "");
		return -EINVAL;
	}
	if (!o->ca_cert != !o->ca_key || (o->tls_client_ca && !o->tls_cert)) {
		fprintf(stderr, o->tls_client_ca && !o->tls_cert ? "--tls-client-ca needs "
			"--tls-cert and --tls-key\n" : "--ca-cert and --ca-key go together\n");
		return -EINVAL;
	}
	return 0;
}

/* The default token file lives beside the database, so one directory holds the state. */
static char *main_token_path(const char *db)
{
	char *copy = strdup(db), *path = NULL;

	if (copy && asprintf(&path, "%s/admin.token", dirname(copy)) < 0)
		path = NULL;
	free(copy);
	return path;
}

/* The CA given, or the one beside the database (made at first start). Its CRL is
 * re-signed from the rows, so every intent carries a fresh one. */
static int main_ca(const struct main_opts *o, struct store *s, struct ca **out)
{
	char *copy = strdup(o->db), *dir, *cert = NULL, *key = NULL, err[512] = "";
	char *crl = NULL;
	int r = copy ? 0 : -ENOMEM;

	dir = copy ? dirname(copy) : NULL;
	if (r == 0 && !o->ca_cert && (asprintf(&cert, "%s/ca.pem", dir) < 0 ||
				      asprintf(&key, "%s/ca.key", dir) < 0))
		r = -ENOMEM;
	if (r == 0)
		r = ca_open(o->ca_cert ? o->ca_cert : cert, o->ca_key ? o->ca_key : key,
			    !o->ca_cert, out, err, sizeof(err));
	if (r < 0)
		log_err("CA: %s", err[0] ? err : strerror(-r));
	if (r == 0) {
		(*out)->cert_seconds = o->cert_lifetime;
		store_set_ca(s, *out);
		r = pki_crl(store_db(s), *out, &crl);
	}
	if (r == 0)
		store_set_crl(s, crl);
	free(copy);
	free(cert);
	free(key);
	return r;
}

/* A fresh install has no state directory yet: make the database's own directory
 * (one level only, private, since the admin token lands there too). */
static int main_state_dir(const char *db)
{
	char *copy = strdup(db);
	int r = 0;

	if (!copy)
		return -ENOMEM;
	if (mkdir(dirname(copy), 0700) < 0 && errno != EEXIST)
		r = -errno;
	free(copy);
	return r;
}

static void main_notify(void *ctx, const json_t *sites)
{
	log_debug("intents changed for %zu site(s)", json_array_size(sites));
	longpoll_notify(ctx, sites);
}

/* Brings every site's intent revision up to date with the store as it is now (a new
 * controller version may compile differently). A store that no longer compiles is
 * served as it is: its errors are logged, the revisions stay. */
static int main_intents(const struct addr_prefix *pool, struct store *s)
{
	int r;

	store_set_overlay_pool(s, pool);
	r = store_refresh(s);
	if (r == -EINVAL) {
		log_warn("the stored topology has errors; intents keep their last revisions "
			 "until they are fixed");
		return 0;
	}
	if (r < 0)
		log_err("cannot bring intents up to date: %s", strerror(-r));
	return r;
}

/* Profiles stored before ike_version 1 was refused still say 1; the compiler never read
 * it, so they were and are served as IKEv2. Said once at start, so the operator can
 * PATCH them to 2 (an export holding them would not import). */
static void main_legacy_profiles(struct store *s)
{
	json_t *all = NULL, *p;
	size_t i;

	if (store_all(s, &kind_profile, &all) < 0)
		return;
	json_array_foreach(all, i, p)
		if (json_integer_value(json_object_get(p, "ike_version")) == 1)
			log_warn("profile %s: ike_version 1 is not supported and is served as IKEv2; "
				 "set it to 2 (PATCH /v1/profiles/%s)",
				 json_string_value(json_object_get(p, "name")),
				 json_string_value(json_object_get(p, "name")));
	json_decref(all);
}

/* Answers held intent requests (204) before the server stops, so agents re-poll at
 * once instead of seeing a dropped connection; gives up after a second. */
static void main_drain(struct longpoll *p)
{
	struct timespec tick = { 0, 10 * 1000000L };

	if (!p)
		return;
	longpoll_shutdown(p);
	for (int i = 0; i < 100 && longpoll_count(p) > 0; i++)
		nanosleep(&tick, NULL);
}

/* The process holds every PSK and, briefly, bearer tokens: no core dump may carry
 * them to disk, and no other process of the same user may ptrace them out. */
static void main_harden(void)
{
	struct rlimit none = { 0, 0 };

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		log_warn("cannot turn core dumps off (PR_SET_DUMPABLE): %s", strerror(errno));
	if (setrlimit(RLIMIT_CORE, &none) < 0)
		log_warn("cannot turn core dumps off (RLIMIT_CORE): %s", strerror(errno));
}

/* Every connection is a descriptor: raise the soft open-file limit to the hard one.
 * A --max-connections it cannot hold is refused (the database, its WAL and the
 * server's own descriptors need a few dozen more); without the option, the default
 * (MAIN_MAX_CONNS) is lowered to what the limit holds, so that the controller starts
 * under any sane limit. */
#define MAIN_MAX_CONNS 4096
#define MAIN_FD_SPARE 64
static int main_files(unsigned *max_conns)
{
	unsigned want = *max_conns ? *max_conns : MAIN_MAX_CONNS;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY || (rlim_t)want + MAIN_FD_SPARE <= rl.rlim_cur) {
		*max_conns = want;
		return 0;
	}
	if (!*max_conns && rl.rlim_cur >= 16 + MAIN_FD_SPARE) {
		*max_conns = (unsigned)rl.rlim_cur - MAIN_FD_SPARE;
		log_warn("open-file limit %llu: at most %u connections (raise LimitNOFILE= for %u)",
			 (unsigned long long)rl.rlim_cur, *max_conns, MAIN_MAX_CONNS);
		return 0;
	}
	log_err("--max-connections %u needs an open-file limit of at least %u "
		"(it is %llu: raise LimitNOFILE= or lower --max-connections)",
		want, want + MAIN_FD_SPARE, (unsigned long long)rl.rlim_cur);
	return -EMFILE;
}

static int main_run(const struct main_opts *o, const char *token_file)
{
	struct http_config hc = {
		.listen = o->listen, .tls_cert = o->tls_cert, .tls_key = o->tls_key,
		.tls_client_ca = o->tls_client_ca,
		.max_body = o->max_body, .unauth_body = MAIN_UNAUTH_BODY,
		.max_conns = o->max_conns, .max_per_client = o->max_per_client,
		.client_timeout = o->client_timeout, .observe = api_observe,
	};
	struct http_server *srv = NULL;
	struct api api = { .poll_timeout_ms = o->poll_timeout * 1000, .stale_after = o->stale_after,
			   .ui_dir = o->ui_dir };
	sigset_t set;
	int sig, r;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	/* Blocked before any thread starts, so only sigwait below sees them. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	r = main_files(&hc.max_conns);
	if (r == 0 && (r = main_state_dir(o->db)) < 0)
		log_err("cannot create the directory of %s: %s", o->db, strerror(-r));
	if (r == 0)
		r = store_open(o->db, &api.store);
	if (r == 0)
		r = auth_bootstrap(store_db(api.store), token_file);
	if (r == 0)
		r = main_ca(o, api.store, &api.ca);
	if (r == 0)
		r = main_intents(&o->pool, api.store);
	if (r == 0)
		main_legacy_profiles(api.store);
	if (r == 0)
		r = longpoll_new(&api.poll);
	if (r == 0) {
		store_set_notify(api.store, main_notify, api.poll);
		store_set_prefetch(api.store, longpoll_waiting, api.poll);
		r = http_start(&hc, api_head, api_handle, &api, &srv);
	}
	if (r < 0)
		goto out;
	log_info("serving the API on %s%s (database %s)", o->listen, o->tls_cert ? " with TLS" : "",
		 o->db);
	sigwait(&set, &sig);
	log_info("signal %d: stopping", sig);
out:
	main_drain(api.poll);
	http_free(srv);
	longpoll_free(api.poll);
	store_free(api.store);
	ca_free(api.ca);
	return r;
}

int main(int argc, char **argv)
{
	struct main_opts o = {
		.db = "/var/lib/gresec/gresec.db",
		.listen = "127.0.0.1:8080",
		.max_body = 32u << 20,
		.max_per_client = 64,
		.client_timeout = 15,
		.level = LOG_LVL_INFO,
		.stale_after = 90,
		.poll_timeout = 30,
		.ui_dir = GRESEC_UI_DIR,
		.cert_lifetime = CA_CERT_DAYS_DEFAULT * 86400,
	};
	char *token_file = NULL;
	int r;

	addr_prefix_parse("100.64.0.0/10", &o.pool);
	if (main_parse(argc, argv, &o) < 0)
		return 2;
	log_init("gresec-controller", o.level);
	main_harden();
	token_file = o.token_file ? strdup(o.token_file) : main_token_path(o.db);
	if (!token_file)
		return 1;
	r = main_run(&o, token_file);
	free(token_file);
	return r < 0 ? 1 : 0;
}
