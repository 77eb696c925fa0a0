/* gresec-controller: the topology and policy store behind the REST API. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api.h"
#include "auth.h"
#include "http.h"
#include "log.h"
#include "store.h"

struct main_opts {
	const char *db;
	const char *listen;
	const char *token_file;
	const char *tls_cert, *tls_key;
	size_t max_body;
	unsigned max_conns;
	enum log_level level;
};

static void main_usage(FILE *f)
{
	fprintf(f,
		"usage: gresec-controller [--db FILE] [--listen HOST:PORT] [--admin-token-file FILE]\n"
		"                         [--tls-cert FILE --tls-key FILE] [--log-level LEVEL]\n"
		"                         [--max-body BYTES] [--max-connections N]\n"
		"  --db FILE               SQLite database (default /var/lib/gresec/gresec.db)\n"
		"  --listen HOST:PORT      address to serve the API on (default 127.0.0.1:8080)\n"
		"  --admin-token-file FILE where the first admin token is written (default: beside the db)\n"
		"  --tls-cert/--tls-key    serve HTTPS with this PEM certificate and key\n"
		"  --log-level LEVEL       error, warn, info (default) or debug\n"
		"  --max-body BYTES        largest request body accepted (default 33554432)\n"
		"  --max-connections N     concurrent connections (default 4096)\n");
}

static int main_parse(int argc, char **argv, struct main_opts *o)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "admin-token-file", required_argument, NULL, 't' },
		{ "tls-cert", required_argument, NULL, 'c' },
		{ "tls-key", required_argument, NULL, 'k' },
		{ "log-level", required_argument, NULL, 'v' },
		{ "max-body", required_argument, NULL, 'b' },
		{ "max-connections", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': o->db = optarg; break;
		case 'l': o->listen = optarg; break;
		case 't': o->token_file = optarg; break;
		case 'c': o->tls_cert = optarg; break;
		case 'k': o->tls_key = optarg; break;
		case 'v':
			if (log_level_parse(optarg, &o->level) < 0) {
				fprintf(stderr, "--log-level: expected error, warn, info or debug\n");
				return -EINVAL;
			}
			break;
		case 'b':
			o->max_body = strtoull(optarg, &end, 10);
			if (*end || o->max_body < 1024) {
				fprintf(stderr, "--max-body: expected a number of bytes >= 1024\n");
				return -EINVAL;
			}
			break;
		case 'n':
			o->max_conns = (unsigned)strtoul(optarg, &end, 10);
			if (*end || o->max_conns < 16) {
				fprintf(stderr, "--max-connections: expected a number >= 16\n");
				return -EINVAL;
			}
			break;
		case 'h':
			main_usage(stdout);
			exit(0);
		default:
			main_usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc || !o->tls_cert != !o->tls_key) {
		fprintf(stderr, optind < argc ? "unexpected argument: %s\n" :
			"--tls-cert and --tls-key go together%s\n", optind < argc ? argv[optind] : "");
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

static int main_run(const struct main_opts *o, const char *token_file)
{
	struct http_config hc = { o->listen, o->tls_cert, o->tls_key, o->max_body, o->max_conns };
	struct http_server *srv = NULL;
	struct api api = { 0 };
	sigset_t set;
	int sig, r;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	/* Blocked before any thread starts, so only sigwait below sees them. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	r = main_state_dir(o->db);
	if (r < 0)
		log_err("cannot create the directory of %s: %s", o->db, strerror(-r));
	if (r == 0)
		r = store_open(o->db, &api.store);
	if (r == 0)
		r = auth_bootstrap(store_db(api.store), token_file);
	if (r == 0)
		r = http_start(&hc, api_handle, &api, &srv);
	if (r < 0)
		goto out;
	log_info("serving the API on %s%s (database %s)", o->listen, o->tls_cert ? " with TLS" : "",
		 o->db);
	sigwait(&set, &sig);
	log_info("signal %d: stopping", sig);
out:
	http_free(srv);
	store_free(api.store);
	return r;
}

int main(int argc, char **argv)
{
	struct main_opts o = {
		.db = "/var/lib/gresec/gresec.db",
		.listen = "127.0.0.1:8080",
		.max_body = 32u << 20,
		.max_conns = 4096,
		.level = LOG_LVL_INFO,
	};
	char *token_file = NULL;
	int r;

	if (main_parse(argc, argv, &o) < 0)
		return 2;
	log_init("gresec-controller", o.level);
	token_file = o.token_file ? strdup(o.token_file) : main_token_path(o.db);
	if (!token_file)
		return 1;
	r = main_run(&o, token_file);
	free(token_file);
	return r < 0 ? 1 : 0;
}
