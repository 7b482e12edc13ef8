/*
 * corpus_contracts — the contracts a team would register for the shared
 * corpus's five kinds of events (FORMAT.md §21's JSON Schema subset), so
 * that bench_contract measures the check on real events of every size
 * rather than on {"type":"object"}:
 *
 *   1 clickstream   3 fields, every one required and typed, closed
 *   2 LLM traces    3 fields, the same (both trace files share it)
 *   3 system logs   16 systems' fields: the system enumerated, the six
 *                   every line has required, the 24 others typed, closed;
 *                   free text and users marked
 *   4 webhooks      10 KB nested GitHub payloads: the event name required,
 *                   sender, repository, organization and installation
 *                   typed a few levels deep, open content (GitHub adds
 *                   fields; a contract that closed them would break on
 *                   the next release)
 *   5 web log       9 fields, required and typed, the method enumerated,
 *                   closed; the host personal
 *
 * Every corpus event conforms (bench_contract dies on a refusal), so the
 * figure is the cost of checking, not of refusing. An event's kind is
 * told by its first member's name, which each file's lines share.
 */
#include <string.h>

#include "corpus_contracts.h"

#define STR "{\"type\":\"string\"}"
#define INT "{\"type\":\"integer\"}"
#define BOOL "{\"type\":\"boolean\"}"
#define STR_OR_NULL "{\"type\":[\"string\",\"null\"]}"

static const char CLICKS[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"SessionId\",\"ItemId\",\"Time\"],"
    "\"properties\":{\"SessionId\":{\"type\":\"integer\",\"x-sensitivity\":\"personal\"},\"ItemId\":" INT ","
    "\"Time\":{\"type\":\"number\"}}}";

static const char TRACES[] =
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"TIMESTAMP\",\"ContextTokens\",\"GeneratedTokens\"],"
    "\"properties\":{\"TIMESTAMP\":" STR ",\"ContextTokens\":" INT ",\"GeneratedTokens\":" INT "}}";

static const char SYSLOG[] =
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"_loghub_system\",\"LineId\",\"Time\",\"Content\",\"EventId\",\"EventTemplate\"],"
    "\"properties\":{"
    "\"_loghub_system\":{\"type\":\"string\",\"enum\":[\"Android\",\"Apache\",\"BGL\",\"HDFS\",\"HPC\",\"Hadoop\","
    "\"HealthApp\",\"Linux\",\"Mac\",\"OpenSSH\",\"OpenStack\",\"Proxifier\",\"Spark\",\"Thunderbird\",\"Windows\","
    "\"Zookeeper\"]},"
    "\"LineId\":" INT ",\"Time\":" STR ",\"EventId\":" STR ",\"EventTemplate\":" STR ","
    "\"Content\":{\"type\":\"string\",\"x-sensitivity\":\"internal\"},"
    "\"ADDR\":" STR ",\"Address\":" STR ",\"Component\":" STR ",\"Date\":" STR ",\"Day\":" STR ",\"Flag\":" STR ","
    "\"Id\":" STR ",\"Label\":" STR ",\"Level\":" STR ",\"Location\":" STR ",\"LogId\":" STR ",\"Logrecord\":" STR ","
    "\"Month\":" STR ",\"Node\":" STR ",\"NodeRepeat\":" STR ",\"PID\":" STR ",\"Pid\":" STR ",\"Process\":" STR ","
    "\"Program\":" STR ",\"State\":" STR ",\"Tid\":" STR ",\"Timestamp\":" STR ",\"Type\":" STR ","
    "\"User\":{\"type\":\"string\",\"x-sensitivity\":\"personal\"}}}";

/* A GitHub account as webhooks carry it (sender, owner): the fields a
 * consumer joins on typed, the URLs GitHub adds left open. */
#define ACCOUNT                                                                                                       \
    "{\"type\":\"object\",\"required\":[\"login\",\"id\",\"type\"],\"properties\":{"                                   \
    "\"login\":{\"type\":\"string\",\"x-sensitivity\":\"personal\"},\"id\":" INT ",\"node_id\":" STR                  \
    ",\"type\":" STR ",\"site_admin\":" BOOL ",\"email\":{\"type\":[\"string\",\"null\"],\"x-sensitivity\":"           \
    "\"personal\"}}}"

static const char WEBHOOKS[] =
    "{\"type\":\"object\",\"required\":[\"_webhook_event\"],\"properties\":{"
    "\"_webhook_event\":" STR ",\"action\":" STR ",\"number\":" INT ",\"ref\":" STR ","
    "\"sender\":" ACCOUNT ","
    "\"installation\":{\"type\":\"object\",\"required\":[\"id\"],\"properties\":{\"id\":" INT ",\"node_id\":" STR
    "}},"
    "\"organization\":{\"type\":\"object\",\"required\":[\"login\",\"id\"],\"properties\":{\"login\":" STR
    ",\"id\":" INT ",\"description\":" STR_OR_NULL "}},"
    "\"repository\":{\"type\":\"object\",\"required\":[\"id\",\"name\",\"full_name\",\"private\",\"owner\"],"
    "\"properties\":{\"id\":" INT ",\"node_id\":" STR ",\"name\":" STR ",\"full_name\":" STR ",\"private\":" BOOL
    ",\"owner\":" ACCOUNT ",\"fork\":" BOOL ",\"description\":" STR_OR_NULL ",\"homepage\":" STR_OR_NULL
    ",\"language\":" STR_OR_NULL ",\"created_at\":{\"type\":[\"string\",\"integer\"]},"
    "\"pushed_at\":{\"type\":[\"string\",\"integer\",\"null\"]},\"size\":" INT ",\"stargazers_count\":" INT
    ",\"forks_count\":" INT ",\"open_issues_count\":" INT ",\"archived\":" BOOL ",\"default_branch\":" STR
    ",\"topics\":{\"type\":\"array\",\"items\":" STR "}}}}}";

static const char WEBLOG[] =
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"host\",\"logname\",\"time\",\"method\",\"url\",\"response\",\"bytes\",\"referer\",\"useragent\"],"
    "\"properties\":{\"host\":{\"type\":\"string\",\"x-sensitivity\":\"personal\"},\"logname\":" STR ","
    "\"time\":" INT ",\"method\":{\"type\":\"string\",\"enum\":[\"GET\",\"HEAD\",\"POST\",\"PUT\",\"DELETE\","
    "\"OPTIONS\"]},\"url\":" STR ",\"response\":" INT ",\"bytes\":" INT ",\"referer\":" STR ","
    "\"useragent\":{\"type\":\"string\",\"x-sensitivity\":\"internal\"}}}";

static const bench_contract CONTRACTS[] = {
    { 1, "clickstream", "{\"SessionId\":", CLICKS },
    { 2, "llm trace", "{\"TIMESTAMP\":", TRACES },
    { 3, "system log", "{\"_loghub_system\":", SYSLOG },
    { 4, "webhook", "{\"_webhook_event\":", WEBHOOKS },
    { 5, "web log", "{\"host\":", WEBLOG },
};

const bench_contract *corpus_contracts(size_t *n)
{
    *n = sizeof CONTRACTS / sizeof CONTRACTS[0];
    return CONTRACTS;
}

uint32_t corpus_contract_version(const char *value, size_t len)
{
    for (size_t i = 0; i < sizeof CONTRACTS / sizeof CONTRACTS[0]; i++) {
        size_t l = strlen(CONTRACTS[i].first_member);
        if (len >= l && memcmp(value, CONTRACTS[i].first_member, l) == 0)
            return CONTRACTS[i].version;
    }
    return 0;
}
