#include "engine/sample/plexichat_home.h"

#include <openssl/evp.h>
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <concepts>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/seeded_random.h"
#include "pxb/bytes.h"

namespace pxb {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------
// Randomness. Integer arithmetic only: floating-point results (log, pow, FMA
// contraction) may differ between platforms, and the output must not.

uint64_t Mix(uint64_t a, uint64_t b) {
  uint64_t state = a ^ (b * 0xd1342543de82ef95ULL + 0x632be59bd9b4e019ULL);
  SplitMix64(state);
  return SplitMix64(state);
}

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ULL;
  return h;
}

// Independent streams, so that changing how one part of the home is generated
// leaves the others unchanged.
enum Stream : uint64_t {
  kStreamInstance = 1,
  kStreamKeys,
  kStreamUsers,
  kStreamMediaPlan,
  kStreamServers,
  kStreamConversations,
  kStreamMessages,
  kStreamSimulation,
};

// xoshiro256**.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (uint64_t& word : s_) word = SplitMix64(seed);
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n); n > 0.
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  // Uniform in [lo, hi].
  uint64_t Between(uint64_t lo, uint64_t hi) { return lo + Below(hi - lo + 1); }
  bool PerMille(uint32_t p) { return Below(1000) < p; }
  // In [0, n), small values far more likely: a few users and files dominate.
  uint64_t Skewed(uint64_t n) { return Below(1 + Below(n)); }

  template <typename Container>
  const auto& Pick(const Container& items) {
    return items[Below(std::size(items))];
  }

  void Fill(char* out, size_t n) {
    while (n >= 8) {
      uint64_t v = Next();
      std::memcpy(out, &v, 8);
      out += 8;
      n -= 8;
    }
    if (n > 0) {
      uint64_t v = Next();
      std::memcpy(out, &v, n);
    }
  }

  template <typename T>
  void Shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[Below(i)]);
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

std::string NewUuid(Rng& rng) {
  uint64_t hi = (rng.Next() & ~0xF000ULL) | 0x4000ULL;
  uint64_t lo = (rng.Next() & ~(3ULL << 62)) | (2ULL << 62);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08llx-%04llx-%04llx-%04llx-%012llx",
                static_cast<unsigned long long>(hi >> 32),
                static_cast<unsigned long long>((hi >> 16) & 0xFFFF),
                static_cast<unsigned long long>(hi & 0xFFFF),
                static_cast<unsigned long long>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
  return buf;
}

std::string Base64NoPad(const std::string& bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : bytes) {
    acc = (acc << 8) | static_cast<uint8_t>(c);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  return out;
}

std::string RandomBytes(Rng& rng, size_t n) {
  std::string s(n, '\0');
  rng.Fill(s.data(), n);
  return s;
}

// ---------------------------------------------------------------------------
// Time: milliseconds since the Unix epoch, stored as ISO 8601 UTC text with
// milliseconds, which sorts as text.

constexpr int64_t kSecondMs = 1000;
constexpr int64_t kMinuteMs = 60 * kSecondMs;
constexpr int64_t kHourMs = 60 * kMinuteMs;
constexpr int64_t kDayMs = 24 * kHourMs;
constexpr int64_t kStartMs = 1767225600000;  // 2026-01-01T00:00:00Z

struct CivilTime {
  int year;
  unsigned month, day;
  int64_t hour, minute, second, millis;
};

CivilTime ToCivil(int64_t ms) {
  using namespace std::chrono;
  sys_time<milliseconds> tp{milliseconds{ms}};
  sys_days day = floor<days>(tp);
  year_month_day ymd{day};
  hh_mm_ss<milliseconds> hms{tp - day};
  return {static_cast<int>(ymd.year()),
          static_cast<unsigned>(ymd.month()),
          static_cast<unsigned>(ymd.day()),
          hms.hours().count(),
          hms.minutes().count(),
          hms.seconds().count(),
          hms.subseconds().count()};
}

std::string IsoTime(int64_t ms) {
  CivilTime c = ToCivil(ms);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ", c.year, c.month,
                c.day, static_cast<long long>(c.hour), static_cast<long long>(c.minute),
                static_cast<long long>(c.second), static_cast<long long>(c.millis));
  return buf;
}

// Parses what IsoTime writes (the fraction is optional).
std::optional<int64_t> ParseIsoTime(const std::string& s) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, ms = 0;
  int n = std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d", &y, &mo, &d, &h, &mi, &sec, &ms);
  if (n < 6) return std::nullopt;
  using namespace std::chrono;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  int64_t days_ms = duration_cast<milliseconds>(sys_days{ymd}.time_since_epoch()).count();
  return days_ms + h * kHourMs + mi * kMinuteMs + sec * kSecondMs + ms;
}

// Relative activity per UTC hour (mean about 100): quiet nights, busy evenings.
constexpr std::array<int64_t, 24> kHourlyActivity = {60,  45,  35,  30,  30,  35,  45,  60,
                                                     80,  100, 115, 125, 130, 135, 140, 140,
                                                     145, 150, 150, 145, 135, 120, 100, 80};

// The time to the next message: mean `mean_ms`, skewed towards short gaps
// (conversations come in bursts), longer at quiet hours.
int64_t NextGap(Rng& rng, int64_t mean_ms, int64_t now_ms) {
  const unsigned __int128 a = rng.Below(65536), b = rng.Below(65536);
  int64_t gap = static_cast<int64_t>((static_cast<unsigned __int128>(mean_ms) * 4 * a * b) >> 32);
  int64_t hour = ((now_ms % kDayMs) + kDayMs) % kDayMs / kHourMs;
  gap = gap * 100 / kHourlyActivity[hour];
  return std::max<int64_t>(gap, 1);
}

// ---------------------------------------------------------------------------
// Words.

constexpr std::string_view kFirstNames[] = {
    "alice",  "bob",     "carol",  "dave",   "erin",  "frank",  "grace",  "heidi",  "ivan",
    "judy",   "mallory", "niaj",   "olivia", "peggy", "rupert", "sybil",  "trent",  "uma",
    "victor", "wendy",   "xavier", "yara",   "zoe",   "liam",   "noah",   "emma",   "ava",
    "sofia",  "mateo",   "lucas",  "mia",    "leon",  "hana",   "yuki",   "ravi",   "priya",
    "omar",   "fatima",  "chen",   "wei",    "sven",  "ingrid", "pierre", "amelie", "diego",
    "lucia",  "kofi",    "amara",  "tariq",  "elif",  "jonas",  "freya",  "mikko",  "aino",
    "pavel",  "olga",    "tomas",  "isabel", "arjun", "kenji"};
constexpr std::string_view kLastNames[] = {
    "smith",     "jones",    "garcia",   "muller",  "rossi",    "nguyen", "kim",     "tanaka",
    "silva",     "novak",    "kowalski", "jensen",  "dubois",   "martin", "lopez",   "schmidt",
    "ivanova",   "haddad",   "okafor",   "mensah",  "patel",    "singh",  "chen",    "wang",
    "lindqvist", "virtanen", "horvat",   "popescu", "yilmaz",   "costa",  "fischer", "weber",
    "moreau",    "brown",    "wilson",   "taylor",  "andersen", "berg",   "sato",    "park"};
constexpr std::string_view kEmailDomains[] = {"gmail.com",    "proton.me",   "outlook.com",
                                              "fastmail.com", "example.org", "posteo.de",
                                              "yahoo.co.jp",  "icloud.com"};
constexpr std::pair<std::string_view, std::string_view> kLocales[] = {
    {"en-US", "America/New_York"},  {"en-US", "America/Los_Angeles"},
    {"en-GB", "Europe/London"},     {"de-DE", "Europe/Berlin"},
    {"fr-FR", "Europe/Paris"},      {"es-ES", "Europe/Madrid"},
    {"pt-BR", "America/Sao_Paulo"}, {"ja-JP", "Asia/Tokyo"},
    {"hi-IN", "Asia/Kolkata"},      {"pl-PL", "Europe/Warsaw"},
    {"sv-SE", "Europe/Stockholm"},  {"en-AU", "Australia/Sydney"}};
constexpr std::string_view kNouns[] = {
    "server",   "build",    "release",  "bug",      "patch",     "docs",    "config",   "backup",
    "database", "query",    "cache",    "deploy",   "ticket",    "meeting", "coffee",   "weekend",
    "game",     "stream",   "music",    "playlist", "photo",     "trip",    "dinner",   "channel",
    "bot",      "role",     "invite",   "emoji",    "theme",     "plugin",  "update",   "laptop",
    "keyboard", "monitor",  "router",   "network",  "latency",   "api",     "endpoint", "token",
    "branch",   "commit",   "pipeline", "test",     "benchmark", "report",  "schedule", "project",
    "idea",     "question", "answer",   "issue",    "feature",   "design",  "sprint",   "demo"};
constexpr std::string_view kVerbs[] = {
    "fix",   "check",   "review", "merge",  "deploy", "restart", "test",    "update",   "write",
    "read",  "try",     "push",   "revert", "ship",   "debug",   "profile", "refactor", "share",
    "watch", "install", "move",   "rename", "delete", "backup",  "restore", "migrate",  "ping"};
constexpr std::string_view kAdjectives[] = {
    "broken", "flaky", "fast",  "slow",    "new",     "old",    "weird",    "nice",
    "huge",   "tiny",  "stale", "urgent",  "stable",  "beta",   "private",  "public",
    "cursed", "clean", "messy", "awesome", "painful", "subtle", "critical", "optional"};
constexpr std::string_view kTech[] = {
    "docker",  "kubernetes", "postgres", "sqlite",  "redis",   "nginx",      "rust",  "python",
    "go",      "typescript", "react",    "fastapi", "grafana", "prometheus", "ceph",  "minio",
    "systemd", "wireguard",  "linux",    "zstd",    "git",     "vim",        "emacs", "plexichat"};
constexpr std::string_view kFiller[] = {
    "i",      "you",   "we",    "it",    "that",  "this",     "the",       "a",     "is",
    "was",    "and",   "but",   "so",    "just",  "also",     "maybe",     "not",   "really",
    "pretty", "still", "now",   "later", "today", "tomorrow", "yesterday", "again", "for",
    "with",   "on",    "in",    "to",    "of",    "my",       "our",       "your",  "some",
    "all",    "no",    "yes",   "think", "know",  "need",     "want",      "have",  "got",
    "see",    "looks", "works", "seems", "feel"};
constexpr std::string_view kEmoji[] = {
    "\xF0\x9F\x98\x80", "\xF0\x9F\x98\x82", "\xF0\x9F\x91\x8D",
    "\xF0\x9F\x8E\x89", "\xF0\x9F\x94\xA5", "\xE2\x9D\xA4\xEF\xB8\x8F",
    "\xF0\x9F\x98\x85", "\xF0\x9F\x99\x8F", "\xF0\x9F\x91\x80",
    "\xF0\x9F\x9A\x80", "\xE2\x9C\x85",     "\xF0\x9F\xA4\x94",
    "\xF0\x9F\x98\xAD", "\xF0\x9F\x92\xAF", "\xE2\x98\x95",
    "\xF0\x9F\x90\x9B", "\xF0\x9F\x91\x8B", "\xE2\x9C\xA8",
    "\xF0\x9F\x98\xB4", "\xF0\x9F\xA5\xB3"};
constexpr std::string_view kReactions[] = {
    "lol",  "+1",   "same",    "nice!", "gg",   "thanks!", "ty",          "ok",
    "brb",  "afk",  "yep",     "nope",  "haha", "wow",     "agreed",      "on it",
    "done", "lgtm", "ship it", "omg",   "np",   "sure",    "fair enough", "+1 from me"};
constexpr std::string_view kGreetings[] = {"hey {u}!",
                                           "good morning everyone {e}",
                                           "hi all",
                                           "morning {u}",
                                           "hello {u}, welcome!",
                                           "yo",
                                           "evening folks",
                                           "hey hey {e}",
                                           "welcome to the server {u} {e}",
                                           "gm",
                                           "back from {n} break"};
constexpr std::string_view kQuestions[] = {"does anyone know how to {v} the {n}?",
                                           "has anyone tried {t} with {t}?",
                                           "{u} did you {v} the {n} yet?",
                                           "is the {n} {a} again or is it just me?",
                                           "what's the best way to {v} a {n} in {t}?",
                                           "can someone review my PR for the {n}?",
                                           "why does the {n} keep failing after the {t} update?",
                                           "anyone up for {n} tonight?",
                                           "where do i find the {n} settings?",
                                           "should we {v} the {n} before the {n} or after?",
                                           "how long did the {n} take last time?",
                                           "who owns the {n} now that {u} moved teams?"};
constexpr std::string_view kStatements[] = {
    "i'll {v} the {n} after lunch",
    "the {n} on {t} is {a} again",
    "deploying {t} {d}.{d}.{d} to staging now",
    "meeting moved to {d}:30",
    "ok that fixed it, thanks {u}",
    "just pushed a fix for the {a} {n}",
    "{t} {d} is out and the {n} is much faster",
    "we should {v} the {n} before friday",
    "i think the {n} is {a} because of the {n}",
    "reminder: {n} review tomorrow at {d}:00",
    "the {a} {n} is finally gone {e}",
    "can't {v} the {n}, {t} says permission denied",
    "{u} and i are going to {v} the {n} this week",
    "latency dropped from {d}0ms to {d}ms after the {n} change",
    "turns out the {n} was {a} the whole time"};
constexpr std::string_view kIdentifiers[] = {"user_id", "items", "conn", "payload", "msg",
                                             "result",  "rows",  "ctx",  "buf",     "cfg"};
constexpr std::string_view kCodeSnippets[] = {
    "```python\ndef {i}({i}):\n    return [x for x in {i} if x.{i}]\n```",
    "```js\nconst {i} = await fetch(`/api/v1/{n}s/${{i}}`);\nconsole.log({i}.status);\n```",
    "```sql\nSELECT id, created_at FROM {n}s WHERE created_at > now() - interval '{d} days';\n```",
    "```bash\njournalctl -u plexichat --since '{d} min ago' | grep -i error\n```",
    "```cpp\nfor (const auto& {i} : {i}) {\n  if ({i}.empty()) continue;\n  Process({i});\n}\n```",
    "```rust\nlet {i} = {i}.iter().filter(|x| x.{i}).count();\nprintln!(\"{}\", {i});\n```",
    "```yaml\n{n}:\n  enabled: true\n  retries: {d}\n  timeout: {d}s\n```",
    "```\nError: {n} {a}: connection reset by peer (os error 104)\n```",
    "```go\nif err := {i}.Close(); err != nil {\n\treturn fmt.Errorf(\"{n}: %w\", err)\n}\n```"};
constexpr std::string_view kLinkDomains[] = {
    "github.com",           "docs.plexichat.io", "example.com", "stackoverflow.com",
    "news.ycombinator.com", "en.wikipedia.org",  "youtube.com", "gitlab.com"};
constexpr std::string_view kStatusTexts[] = {
    "working from home",  "\xF0\x9F\x8E\xA7 listening to lofi",
    "on call this week",  "out until monday",
    "building things",    "\xF0\x9F\x8C\xB4 vacation",
    "debugging prod",     "coffee first \xE2\x98\x95",
    "in meetings all day"};
constexpr std::string_view kServerWords[] = {
    "Homelab",  "Rust",   "Gaming",   "Photography", "Open Source", "Study", "Music",
    "Cooking",  "Linux",  "Startup",  "Reading",     "Design",      "Retro", "Climbing",
    "Language", "DevOps", "Robotics", "Chess",       "Film",        "Travel"};
constexpr std::string_view kServerSuffixes[] = {"Hub",   "Club",   "Crew", "Collective", "Lounge",
                                                "Guild", "Corner", "Den",  "Society",    "HQ"};
constexpr std::string_view kTextChannels[] = {
    "random",   "help",     "dev",    "off-topic", "showcase", "memes",   "links",  "support",
    "feedback", "releases", "jobs",   "music",     "pets",     "food",    "gaming", "ops",
    "design",   "ideas",    "events", "intros",    "bots",     "hardware"};
std::string ServerName(Rng& rng) {
  std::string name(rng.Pick(kServerWords));
  name += ' ';
  name += rng.Pick(kServerSuffixes);
  return name;
}

constexpr std::string_view kVoiceChannels[] = {"Lounge", "Gaming", "Study Room", "Stage", "AFK"};

// ---------------------------------------------------------------------------
// Chat text.

class ChatText {
 public:
  explicit ChatText(const std::vector<std::string>* usernames) : usernames_(usernames) {}

  std::string Message(Rng& rng) {
    std::string out;
    uint64_t r = rng.Below(1000);
    if (r < 120) {
      out = rng.Pick(kReactions);
    } else if (r < 200) {
      Expand(rng, rng.Pick(kGreetings), out);
    } else if (r < 400) {
      Expand(rng, rng.Pick(kQuestions), out);
    } else if (r < 650) {
      Expand(rng, rng.Pick(kStatements), out);
      if (rng.PerMille(300)) {
        out += ". ";
        Expand(rng, rng.Pick(kStatements), out);
      }
    } else if (r < 780) {
      out = Sentences(rng, rng.Between(1, 2));
    } else if (r < 860) {
      out = Sentences(rng, rng.Between(3, 8));
      if (rng.PerMille(400)) out += "\n\n" + Sentences(rng, rng.Between(2, 6));
    } else if (r < 920) {
      Expand(rng, rng.PerMille(500) ? std::string_view("check this out") : rng.Pick(kStatements),
             out);
      out += ' ';
      out += Url(rng);
    } else if (r < 970) {
      Expand(rng,
             rng.PerMille(500) ? std::string_view("this is what i have so far:")
                               : std::string_view("{u} try this:"),
             out);
      out += '\n';
      Expand(rng, rng.Pick(kCodeSnippets), out);
    } else {
      out = "todo:";
      for (uint64_t i = rng.Between(2, 6); i > 0; --i) {
        out += "\n- ";
        Expand(rng, "{v} the {a} {n}", out);
      }
    }
    if (rng.PerMille(150)) {
      out += ' ';
      out += rng.Pick(kEmoji);
    }
    return out;
  }

  // Free text: sentences of common words with a technical term now and then.
  std::string Sentences(Rng& rng, uint64_t count) {
    std::string out;
    for (uint64_t s = 0; s < count; ++s) {
      if (s > 0) out += ' ';
      uint64_t words = rng.Between(4, 18);
      for (uint64_t w = 0; w < words; ++w) {
        if (w > 0) out += rng.PerMille(40) ? ", " : " ";
        uint64_t r = rng.Below(100);
        std::string_view word = r < 55   ? rng.Pick(kFiller)
                                : r < 75 ? rng.Pick(kNouns)
                                : r < 85 ? rng.Pick(kVerbs)
                                : r < 95 ? rng.Pick(kAdjectives)
                                         : rng.Pick(kTech);
        size_t start = out.size();
        out += word;
        if (w == 0) out[start] = static_cast<char>(std::toupper(static_cast<uint8_t>(out[start])));
      }
      uint64_t end = rng.Below(10);
      out += end < 7 ? "." : end < 9 ? "!" : "?";
    }
    return out;
  }

  std::string EditNote(Rng& rng) {
    static constexpr std::string_view kNotes[] = {
        "\n\nedit: typo", "\n\nedit: nvm, fixed it", "\n\nEDIT: updated the link",
        " (edited: wrong channel, sorry)", "\n\nedit: {u} pointed out the {n} was {a}"};
    std::string out;
    Expand(rng, rng.Pick(kNotes), out);
    return out;
  }

  std::string Url(Rng& rng) {
    std::string url = "https://";
    url += rng.Pick(kLinkDomains);
    for (uint64_t i = rng.Between(1, 3); i > 0; --i) {
      url += '/';
      url += rng.Pick(kNouns);
      if (rng.PerMille(300)) {
        url += '-';
        url += rng.Pick(kVerbs);
      }
    }
    if (rng.PerMille(300)) {
      char buf[24];
      std::snprintf(buf, sizeof(buf), "?id=%llx", static_cast<unsigned long long>(rng.Next()));
      url += buf;
    }
    return url;
  }

  // Replaces {n} noun, {v} verb, {a} adjective, {t} technology, {u} @mention,
  // {d} number, {e} emoji, {i} identifier.
  void Expand(Rng& rng, std::string_view tmpl, std::string& out) {
    for (size_t i = 0; i < tmpl.size(); ++i) {
      if (tmpl[i] == '{' && i + 2 < tmpl.size() && tmpl[i + 2] == '}') {
        switch (tmpl[i + 1]) {
          case 'n':
            out += rng.Pick(kNouns);
            break;
          case 'v':
            out += rng.Pick(kVerbs);
            break;
          case 'a':
            out += rng.Pick(kAdjectives);
            break;
          case 't':
            out += rng.Pick(kTech);
            break;
          case 'e':
            out += rng.Pick(kEmoji);
            break;
          case 'i':
            out += rng.Pick(kIdentifiers);
            break;
          case 'd':
            out += std::to_string(rng.Below(60));
            break;
          case 'u':
            out += '@';
            out += usernames_->empty() ? "everyone" : rng.Pick(*usernames_);
            break;
          default:
            out.append(tmpl.substr(i, 3));
            break;
        }
        i += 2;
      } else {
        out += tmpl[i];
      }
    }
  }

 private:
  const std::vector<std::string>* usernames_;
};

// ---------------------------------------------------------------------------
// Media files. A file's bytes are a function of its id, kind and size only, so
// a missing file can be written again from its database row.

enum class MediaKind : uint8_t { kJpeg, kPng, kMp4, kPdf, kText, kLog, kJson };

struct MediaKindInfo {
  MediaKind kind;
  std::string_view ext;
  std::string_view mime;
  uint64_t typical_bytes;  // relative size weight
  uint32_t per_mille;      // share of attachments
};

constexpr std::array<MediaKindInfo, 7> kMediaKinds = {{
    {MediaKind::kJpeg, "jpg", "image/jpeg", 250'000, 340},
    {MediaKind::kPng, "png", "image/png", 120'000, 220},
    {MediaKind::kMp4, "mp4", "video/mp4", 6'000'000, 40},
    {MediaKind::kPdf, "pdf", "application/pdf", 300'000, 80},
    {MediaKind::kText, "txt", "text/plain", 20'000, 120},
    {MediaKind::kLog, "log", "text/x-log", 200'000, 80},
    {MediaKind::kJson, "json", "application/json", 80'000, 120},
}};

constexpr bool KindsInEnumOrder() {
  for (size_t i = 0; i < kMediaKinds.size(); ++i) {
    if (static_cast<size_t>(kMediaKinds[i].kind) != i) return false;
  }
  return true;
}
static_assert(KindsInEnumOrder(), "InfoOf() indexes kMediaKinds by kind");

const MediaKindInfo& InfoOf(MediaKind kind) { return kMediaKinds[static_cast<size_t>(kind)]; }

std::optional<MediaKind> KindFromMime(std::string_view mime) {
  for (const MediaKindInfo& info : kMediaKinds) {
    if (info.mime == mime) return info.kind;
  }
  return std::nullopt;
}

MediaKind PickAttachmentKind(Rng& rng) {
  uint64_t r = rng.Below(1000);
  for (const MediaKindInfo& info : kMediaKinds) {
    if (r < info.per_mille) return info.kind;
    r -= info.per_mille;
  }
  return MediaKind::kJpeg;
}

struct MediaItem {
  std::string id;
  MediaKind kind = MediaKind::kJpeg;
  bool avatar = false;
  uint64_t size = 0;
};

// Sets the sizes of `items` so that they add up to exactly `total_bytes`,
// heavy-tailed within each kind.
void PlanMediaSizes(Rng& rng, std::vector<MediaItem>& items, uint64_t total_bytes) {
  if (items.empty()) return;
  const uint64_t n = items.size();
  const uint64_t min_size = std::min<uint64_t>(512, total_bytes / n);
  const uint64_t budget = total_bytes - min_size * n;
  std::vector<uint64_t> weights(n);
  unsigned __int128 total_weight = 0;
  size_t heaviest = 0;
  for (size_t i = 0; i < n; ++i) {
    uint64_t typical = InfoOf(items[i].kind).typical_bytes / (items[i].avatar ? 4 : 1);
    weights[i] = typical * (1'000'000 / (rng.Below(970) + 30));
    total_weight += weights[i];
    if (weights[i] > weights[heaviest]) heaviest = i;
  }
  uint64_t assigned = 0;
  for (size_t i = 0; i < n; ++i) {
    items[i].size =
        min_size +
        static_cast<uint64_t>(weights[i] * static_cast<unsigned __int128>(budget) / total_weight);
    assigned += items[i].size;
  }
  items[heaviest].size += total_bytes - assigned;
}

std::string MediaRelativePath(const MediaItem& item, int64_t created_ms) {
  CivilTime c = ToCivil(created_ms);
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04d/%02u/", c.year, c.month);
  return std::string(buf) + item.id + "." + std::string(InfoOf(item.kind).ext);
}

// The name the uploader's device gave the file.
std::string OriginalFilename(Rng& rng, MediaKind kind, int64_t created_ms) {
  CivilTime c = ToCivil(created_ms);
  char stamp[32];
  std::snprintf(stamp, sizeof(stamp), "%04d%02u%02u_%02lld%02lld%02lld", c.year, c.month, c.day,
                static_cast<long long>(c.hour), static_cast<long long>(c.minute),
                static_cast<long long>(c.second));
  switch (kind) {
    case MediaKind::kJpeg:
      return "IMG_" + std::string(stamp) + ".jpg";
    case MediaKind::kPng:
      return rng.PerMille(600) ? "Screenshot_" + std::string(stamp) + ".png"
                               : std::string(rng.Pick(kNouns)) + "-diagram.png";
    case MediaKind::kMp4:
      return "VID_" + std::string(stamp) + ".mp4";
    case MediaKind::kPdf: {
      static constexpr std::string_view kNames[] = {"invoice",  "report", "slides",
                                                    "contract", "paper",  "manual"};
      std::string name(rng.Pick(kNames));
      return name + "-" + std::to_string(rng.Between(1, 400)) + ".pdf";
    }
    case MediaKind::kText: {
      static constexpr std::string_view kNames[] = {"notes", "todo", "meeting-notes", "draft",
                                                    "README"};
      return std::string(rng.Pick(kNames)) + ".txt";
    }
    case MediaKind::kLog: {
      static constexpr std::string_view kNames[] = {"server", "plexichat", "error", "crash"};
      return std::string(rng.Pick(kNames)) + "-" + std::string(stamp, 8) + ".log";
    }
    case MediaKind::kJson: {
      static constexpr std::string_view kNames[] = {"export", "config", "response", "package"};
      return std::string(rng.Pick(kNames)) + ".json";
    }
  }
  return "file.bin";
}

// Writes exactly `size` bytes to a file, hashing them on the way.
class MediaSink {
 public:
  MediaSink(std::FILE* file, uint64_t size)
      : file_(file), remaining_(size), ctx_(EVP_MD_CTX_new()) {
    buffer_.reserve(kBufferSize + 4096);
    digest_ok_ = ctx_ != nullptr && EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) == 1;
  }
  ~MediaSink() { EVP_MD_CTX_free(ctx_); }
  MediaSink(const MediaSink&) = delete;
  MediaSink& operator=(const MediaSink&) = delete;

  // Bytes that may still be written before the reserved tail.
  uint64_t room() const { return remaining_ > reserve_ ? remaining_ - reserve_ : 0; }
  void Reserve(uint64_t tail) { reserve_ = tail; }

  void Put(std::string_view s) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(s.size(), room()));
    buffer_.append(s.data(), n);
    remaining_ -= n;
    if (buffer_.size() >= kBufferSize) Flush();
  }
  void PutRandom(Rng& rng, uint64_t n) {
    n = std::min(n, room());
    while (n > 0) {
      size_t chunk = static_cast<size_t>(std::min<uint64_t>(n, kBufferSize - buffer_.size()));
      size_t at = buffer_.size();
      buffer_.resize(at + chunk);
      rng.Fill(buffer_.data() + at, chunk);
      remaining_ -= chunk;
      n -= chunk;
      if (buffer_.size() >= kBufferSize) Flush();
    }
  }
  void Pad(char c, uint64_t n) { Put(std::string(static_cast<size_t>(std::min(n, room())), c)); }

  // The lower-case hex SHA-256 of everything written; fails on a write error.
  StatusOr<std::string> Finish(const fs::path& path) {
    Flush();
    if (write_errno_ != 0) return ErrnoError(write_errno_, "write " + path.string());
    unsigned char digest[32];
    unsigned int len = 0;
    if (!digest_ok_ || EVP_DigestFinal_ex(ctx_, digest, &len) != 1 || len != 32) {
      return InternalError("SHA-256 of " + path.string() + " failed");
    }
    return ToHex(ByteView(reinterpret_cast<const std::byte*>(digest), 32));
  }

 private:
  static constexpr size_t kBufferSize = 1 << 20;

  void Flush() {
    if (buffer_.empty()) return;
    if (write_errno_ == 0 &&
        std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) {
      write_errno_ = errno != 0 ? errno : EIO;
    }
    digest_ok_ = digest_ok_ && EVP_DigestUpdate(ctx_, buffer_.data(), buffer_.size()) == 1;
    buffer_.clear();
  }

  std::FILE* file_;
  uint64_t remaining_;
  uint64_t reserve_ = 0;
  EVP_MD_CTX* ctx_;
  bool digest_ok_ = false;
  int write_errno_ = 0;
  std::string buffer_;
};

std::string BigEndian32(uint64_t v) {
  uint32_t x = static_cast<uint32_t>(std::min<uint64_t>(v, 0xFFFFFFFFULL));
  return {static_cast<char>(x >> 24), static_cast<char>(x >> 16), static_cast<char>(x >> 8),
          static_cast<char>(x)};
}

// Compressed formats: a real header, then random bytes, which is what their
// entropy-coded payload looks like to a compressor.
void WriteJpeg(MediaSink& sink, Rng& rng) {
  static constexpr char kHeader[] =
      "\xFF\xD8\xFF\xE0\x00\x10"
      "JFIF\x00\x01\x01\x00\x00\x48\x00\x48\x00\x00"
      "\xFF\xDB\x00\x43\x00";
  sink.Reserve(2);
  sink.Put(std::string_view(kHeader, sizeof(kHeader) - 1));
  sink.PutRandom(rng, sink.room());
  sink.Reserve(0);
  sink.Put("\xFF\xD9");
}

void WritePng(MediaSink& sink, Rng& rng) {
  static constexpr char kSignature[] =
      "\x89PNG\r\n\x1A\n"
      "\x00\x00\x00\x0D"
      "IHDR";
  static constexpr char kTail[] =
      "\x00\x00\x00\x00"
      "IEND\xAE\x42\x60\x82";
  sink.Reserve(sizeof(kTail) - 1);
  sink.Put(std::string_view(kSignature, sizeof(kSignature) - 1));
  sink.Put(BigEndian32(rng.Between(64, 4096)));
  sink.Put(BigEndian32(rng.Between(64, 4096)));
  sink.Put(std::string_view("\x08\x06\x00\x00\x00", 5));
  sink.PutRandom(rng, 4);  // CRC
  sink.Put(BigEndian32(sink.room() > 12 ? sink.room() - 12 : 0));
  sink.Put("IDAT");
  sink.PutRandom(rng, sink.room());
  sink.Reserve(0);
  sink.Put(std::string_view(kTail, sizeof(kTail) - 1));
}

void WriteMp4(MediaSink& sink, Rng& rng) {
  static constexpr char kFtyp[] =
      "\x00\x00\x00\x20"
      "ftypisom\x00\x00\x02\x00"
      "isomiso2avc1mp41";
  sink.Put(std::string_view(kFtyp, sizeof(kFtyp) - 1));
  sink.Put(BigEndian32(sink.room()));
  sink.Put("mdat");
  sink.PutRandom(rng, sink.room());
}

// Text content streams between compressed (random) streams, as in real PDFs.
void WritePdf(MediaSink& sink, Rng& rng, ChatText& text) {
  static constexpr std::string_view kTail = "trailer\n<< /Root 1 0 R >>\nstartxref\n0\n%%EOF\n";
  sink.Reserve(kTail.size());
  sink.Put("%PDF-1.7\n%\xE2\xE3\xCF\xD3\n");
  for (int obj = 1; sink.room() > 0; ++obj) {
    std::string head = std::to_string(obj) + " 0 obj\n";
    if (rng.PerMille(350)) {
      std::string content;
      int y = 760;
      for (uint64_t line = rng.Between(10, 40); line > 0; --line, y -= 14) {
        content +=
            "BT /F1 11 Tf 72 " + std::to_string(y) + " Td (" + text.Sentences(rng, 1) + ") Tj ET\n";
      }
      sink.Put(head + "<< /Length " + std::to_string(content.size()) + " >>\nstream\n");
      sink.Put(content);
    } else {
      uint64_t len = rng.Between(2048, 32768);
      sink.Put(head + "<< /Length " + std::to_string(len) + " /Filter /FlateDecode >>\nstream\n");
      sink.PutRandom(rng, len);
    }
    sink.Put("\nendstream\nendobj\n");
  }
  sink.Reserve(0);
  sink.Put(kTail);
}

void WriteText(MediaSink& sink, Rng& rng, ChatText& text) {
  std::string title;
  text.Expand(rng, "# {n} {n} notes\n\n", title);
  sink.Put(title);
  while (sink.room() > 0) {
    if (rng.PerMille(150)) {
      std::string item = "- ";
      text.Expand(rng, "{v} the {a} {n}\n", item);
      sink.Put(item);
    } else {
      sink.Put(text.Sentences(rng, rng.Between(2, 7)) + "\n\n");
    }
  }
}

void WriteLog(MediaSink& sink, Rng& rng, ChatText& text) {
  static constexpr std::string_view kLevels[] = {"INFO ", "INFO ", "INFO ",
                                                 "DEBUG", "WARN ", "ERROR"};
  static constexpr std::string_view kComponents[] = {"gateway", "ws",   "db",
                                                     "media",   "auth", "scheduler"};
  static constexpr std::string_view kEvents[] = {"message.create", "message.edit",    "user.login",
                                                 "media.upload",   "session.refresh", "ws.ping"};
  int64_t t = kStartMs + static_cast<int64_t>(rng.Below(180 * kDayMs));
  while (sink.room() > 0) {
    t += static_cast<int64_t>(rng.Below(2 * kSecondMs));
    std::string line = IsoTime(t);
    line += ' ';
    line += rng.Pick(kLevels);
    line += " [";
    line += rng.Pick(kComponents);
    line += "] user=" + std::to_string(rng.Between(1, 5000));
    char session[16];
    std::snprintf(session, sizeof(session), "%08llx",
                  static_cast<unsigned long long>(rng.Next() & 0xFFFFFFFFULL));
    line += " session=";
    line += session;
    line += " event=";
    line += rng.Pick(kEvents);
    line += " latency_ms=" + std::to_string(rng.Skewed(900) + 1) + "\n";
    sink.Put(line);
    if (rng.PerMille(20)) sink.Put("  caused by: " + text.Sentences(rng, 1) + "\n");
  }
}

void WriteJson(MediaSink& sink, Rng& rng, ChatText& text) {
  static constexpr std::string_view kTail = "  {\"type\": \"export.end\"}\n]\n";
  sink.Reserve(kTail.size());
  sink.Put("[\n");
  for (uint64_t id = 1;; ++id) {
    std::string item = "  {\"id\": " + std::to_string(id) + ", \"type\": \"";
    item += rng.Pick(kNouns);
    item += "\", \"owner\": \"";
    item += rng.Pick(kFirstNames);
    item += "\", \"created_at\": \"";
    item += IsoTime(kStartMs + static_cast<int64_t>(rng.Below(180 * kDayMs)));
    item += "\", \"enabled\": ";
    item += rng.PerMille(700) ? "true" : "false";
    item += ", \"note\": \"";
    item += text.Sentences(rng, 1);
    item += "\"},\n";
    if (item.size() > sink.room()) break;
    sink.Put(item);
  }
  sink.Pad(' ', sink.room());  // whitespace keeps the array valid JSON
  sink.Reserve(0);
  sink.Put(kTail);
}

// Writes the file of `item` below `media_dir` at `relative_path`; returns its
// SHA-256 hex.
StatusOr<std::string> WriteMediaFile(const fs::path& media_dir, const std::string& relative_path,
                                     const MediaItem& item) {
  fs::path path = media_dir / relative_path;
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return ErrnoError(ec.value(), "create " + path.parent_path().string());
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return ErrnoError(errno, "open " + path.string());
  Rng rng(Mix(Fnv1a(item.id), static_cast<uint64_t>(item.kind)));
  static const std::vector<std::string> kNoUsers;
  ChatText text(&kNoUsers);
  StatusOr<std::string> sha = InternalError("media file not written");
  {
    MediaSink sink(file, item.size);
    switch (item.kind) {
      case MediaKind::kJpeg:
        WriteJpeg(sink, rng);
        break;
      case MediaKind::kPng:
        WritePng(sink, rng);
        break;
      case MediaKind::kMp4:
        WriteMp4(sink, rng);
        break;
      case MediaKind::kPdf:
        WritePdf(sink, rng, text);
        break;
      case MediaKind::kText:
        WriteText(sink, rng, text);
        break;
      case MediaKind::kLog:
        WriteLog(sink, rng, text);
        break;
      case MediaKind::kJson:
        WriteJson(sink, rng, text);
        break;
    }
    sha = sink.Finish(path);
  }
  if (std::fclose(file) != 0 && sha.ok()) return ErrnoError(errno, "close " + path.string());
  return sha;
}

// ---------------------------------------------------------------------------
// SQLite.

Status SqliteError(sqlite3* db, int rc, std::string_view context) {
  std::string message = "sqlite: " + std::string(context) + ": " +
                        (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xFF) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return UnavailableError(std::move(message));
    case SQLITE_FULL:
    case SQLITE_NOMEM:
      return ResourceExhaustedError(std::move(message));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return DataLossError(std::move(message));
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return PermissionDeniedError(std::move(message));
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
    case SQLITE_ERROR:
      return InternalError(std::move(message));
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
      if (db != nullptr && sqlite3_system_errno(db) != 0) {
        return ErrnoError(sqlite3_system_errno(db), message);
      }
      return UnknownError(std::move(message));
    default:
      return UnknownError(std::move(message));
  }
}

std::string SqlContext(std::string_view sql) {
  std::string s(sql.substr(0, 60));
  std::replace(s.begin(), s.end(), '\n', ' ');
  return "'" + s + (sql.size() > 60 ? "...'" : "'");
}

class Stmt {
 public:
  Stmt() = default;
  // Errors name the database file and the statement.
  Stmt(sqlite3* db, sqlite3_stmt* stmt, const std::string& path, std::string_view sql)
      : db_(db), stmt_(stmt), path_(path), sql_(SqlContext(sql)) {}
  Stmt(Stmt&& o) noexcept { *this = std::move(o); }
  Stmt& operator=(Stmt&& o) noexcept {
    std::swap(db_, o.db_);
    std::swap(stmt_, o.stmt_);
    std::swap(path_, o.path_);
    std::swap(sql_, o.sql_);
    std::swap(bind_rc_, o.bind_rc_);
    return *this;
  }
  ~Stmt() { sqlite3_finalize(stmt_); }

  template <std::integral T>
  Stmt& Bind(int i, T v) {
    Check(sqlite3_bind_int64(stmt_, i, static_cast<sqlite3_int64>(v)));
    return *this;
  }
  Stmt& Bind(int i, std::string_view v) {
    Check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Stmt& Bind(int i, const std::string& v) { return Bind(i, std::string_view(v)); }
  Stmt& Bind(int i, const char* v) { return Bind(i, std::string_view(v)); }
  Stmt& Bind(int i, const std::optional<std::string>& v) {
    return v.has_value() ? Bind(i, std::string_view(*v)) : BindNull(i);
  }
  Stmt& BindBlob(int i, std::string_view v) {
    Check(sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Stmt& BindNull(int i) {
    Check(sqlite3_bind_null(stmt_, i));
    return *this;
  }

  // Runs a statement to completion, ignoring rows.
  Status Run() {
    Status s = TakeBindError();
    if (s.ok()) {
      int rc;
      while ((rc = sqlite3_step(stmt_)) == SQLITE_ROW) {
      }
      if (rc != SQLITE_DONE) s = SqliteError(db_, rc, path_ + ": executing " + sql_);
    }
    sqlite3_reset(stmt_);
    return s;
  }

  // Steps once: true with a row to read, false (and reset) when done.
  StatusOr<bool> Next() {
    PXB_RETURN_IF_ERROR(TakeBindError());
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    Status s =
        rc == SQLITE_DONE ? Status::Ok() : SqliteError(db_, rc, path_ + ": querying " + sql_);
    sqlite3_reset(stmt_);
    if (!s.ok()) return s;
    return false;
  }
  void Reset() { sqlite3_reset(stmt_); }

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string Text(int col) const {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    return p == nullptr ? std::string()
                        : std::string(reinterpret_cast<const char*>(p),
                                      static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
  }

 private:
  void Check(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  }
  Status TakeBindError() {
    if (bind_rc_ == SQLITE_OK) return Status::Ok();
    int rc = bind_rc_;
    bind_rc_ = SQLITE_OK;
    sqlite3_reset(stmt_);
    return SqliteError(db_, rc, path_ + ": binding " + sql_);
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  std::string path_;
  std::string sql_;
  int bind_rc_ = SQLITE_OK;
};

class Db {
 public:
  Db() = default;
  ~Db() { sqlite3_close_v2(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  static StatusOr<std::unique_ptr<Db>> Open(const fs::path& path, int flags) {
    auto db = std::make_unique<Db>();
    db->path_ = path.string();
    int rc = sqlite3_open_v2(db->path_.c_str(), &db->db_, flags, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db->db_, rc, "opening " + db->path_);
    sqlite3_extended_result_codes(db->db_, 1);
    return db;
  }

  Status Exec(const std::string& sql) {
    char* error = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
    sqlite3_free(error);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, path_ + ": executing " + SqlContext(sql));
    return Status::Ok();
  }

  StatusOr<Stmt> Prepare(std::string_view sql) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, path_ + ": preparing " + SqlContext(sql));
    return Stmt(db_, stmt, path_, sql);
  }

  StatusOr<int64_t> QueryInt(std::string_view sql) {
    PXB_ASSIGN_OR_RETURN(Stmt stmt, Prepare(sql));
    PXB_ASSIGN_OR_RETURN(bool row, stmt.Next());
    if (!row) return InternalError(path_ + ": no row from " + SqlContext(sql));
    return stmt.Int(0);
  }

  StatusOr<std::string> QueryText(std::string_view sql) {
    PXB_ASSIGN_OR_RETURN(Stmt stmt, Prepare(sql));
    PXB_ASSIGN_OR_RETURN(bool row, stmt.Next());
    if (!row) return InternalError(path_ + ": no row from " + SqlContext(sql));
    return stmt.Text(0);
  }

  int64_t Changes() const { return sqlite3_changes64(db_); }
  const std::string& path() const { return path_; }

  // Folds the write-ahead log into the file and leaves the database in
  // rollback-journal mode, a single file a backup can copy.
  Status FinishAsSingleFile() {
    PXB_RETURN_IF_ERROR(Exec("PRAGMA synchronous = FULL"));
    // Both fail softly, reporting in their result, while another connection
    // (a running server) reads the database.
    PXB_ASSIGN_OR_RETURN(int64_t busy, QueryInt("PRAGMA wal_checkpoint(TRUNCATE)"));
    PXB_ASSIGN_OR_RETURN(std::string mode, QueryText("PRAGMA journal_mode = DELETE"));
    if (busy != 0 || mode != "delete") {
      return UnavailableError(path_ +
                              ": cannot leave write-ahead-log mode while another "
                              "connection has the database open");
    }
    return Close();
  }

  Status Close() {
    int rc = sqlite3_close(db_);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, "closing " + path_);
    db_ = nullptr;
    return Status::Ok();
  }

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

// Commits every kRowsPerTransaction rows: a transaction per row is slow, and
// one for everything grows the write-ahead log without bound.
class Transaction {
 public:
  static constexpr int kRowsPerTransaction = 5000;
  explicit Transaction(Db& db) : db_(db) {}
  Status Begin() { return db_.Exec("BEGIN IMMEDIATE"); }
  Status Tick(int rows = 1) {
    rows_ += rows;
    if (rows_ < kRowsPerTransaction) return Status::Ok();
    rows_ = 0;
    PXB_RETURN_IF_ERROR(db_.Exec("COMMIT"));
    return Begin();
  }
  Status Commit() { return db_.Exec("COMMIT"); }

 private:
  Db& db_;
  int rows_ = 0;
};

constexpr std::string_view kSchema = R"sql(
CREATE TABLE sys_settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE auth_users (
  id INTEGER PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  email TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  totp_secret_enc BLOB,
  created_at TEXT NOT NULL,
  last_login_at TEXT,
  is_active INTEGER NOT NULL DEFAULT 1,
  is_admin INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX idx_auth_users_email ON auth_users(email);
CREATE TABLE media_files (
  id TEXT PRIMARY KEY,
  path TEXT NOT NULL UNIQUE,
  mime_type TEXT NOT NULL,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  uploaded_by INTEGER REFERENCES auth_users(id) ON DELETE SET NULL,
  created_at TEXT NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX idx_media_files_uploaded_by ON media_files(uploaded_by);
CREATE INDEX idx_media_files_sha256 ON media_files(sha256);
CREATE TABLE user_profiles (
  user_id INTEGER PRIMARY KEY REFERENCES auth_users(id) ON DELETE CASCADE,
  display_name TEXT NOT NULL,
  bio TEXT,
  avatar_media_id TEXT REFERENCES media_files(id) ON DELETE SET NULL,
  status_text TEXT,
  locale TEXT NOT NULL DEFAULT 'en-US',
  timezone TEXT NOT NULL DEFAULT 'UTC',
  updated_at TEXT NOT NULL
);
CREATE TABLE srv_servers (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  owner_id INTEGER NOT NULL REFERENCES auth_users(id),
  description TEXT,
  created_at TEXT NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX idx_srv_servers_owner ON srv_servers(owner_id);
CREATE TABLE srv_members (
  server_id INTEGER NOT NULL REFERENCES srv_servers(id) ON DELETE CASCADE,
  user_id INTEGER NOT NULL REFERENCES auth_users(id) ON DELETE CASCADE,
  role TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'moderator', 'member')),
  joined_at TEXT NOT NULL,
  PRIMARY KEY (server_id, user_id)
);
CREATE INDEX idx_srv_members_user ON srv_members(user_id);
CREATE TABLE srv_channels (
  id INTEGER PRIMARY KEY,
  server_id INTEGER NOT NULL REFERENCES srv_servers(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  topic TEXT,
  kind TEXT NOT NULL CHECK (kind IN ('text', 'voice', 'announcement')),
  position INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0,
  UNIQUE (server_id, name)
);
CREATE TABLE msg_conversations (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('direct', 'group', 'channel')),
  channel_id INTEGER UNIQUE REFERENCES srv_channels(id) ON DELETE CASCADE,
  title TEXT,
  created_at TEXT NOT NULL,
  CHECK ((kind = 'channel') = (channel_id IS NOT NULL))
);
CREATE TABLE msg_conversation_members (
  conversation_id INTEGER NOT NULL REFERENCES msg_conversations(id) ON DELETE CASCADE,
  user_id INTEGER NOT NULL REFERENCES auth_users(id) ON DELETE CASCADE,
  joined_at TEXT NOT NULL,
  PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX idx_msg_conversation_members_user ON msg_conversation_members(user_id);
CREATE TABLE msg_messages (
  id INTEGER PRIMARY KEY,
  conversation_id INTEGER NOT NULL REFERENCES msg_conversations(id) ON DELETE CASCADE,
  sender_id INTEGER NOT NULL REFERENCES auth_users(id),
  content TEXT NOT NULL,
  created_at TEXT NOT NULL,
  edited_at TEXT,
  deleted INTEGER NOT NULL DEFAULT 0,
  reply_to INTEGER REFERENCES msg_messages(id) ON DELETE SET NULL
);
CREATE INDEX idx_msg_messages_conversation_created ON msg_messages(conversation_id, created_at);
CREATE INDEX idx_msg_messages_sender ON msg_messages(sender_id);
CREATE INDEX idx_msg_messages_reply_to ON msg_messages(reply_to) WHERE reply_to IS NOT NULL;
CREATE TABLE msg_attachments (
  id INTEGER PRIMARY KEY,
  message_id INTEGER NOT NULL REFERENCES msg_messages(id) ON DELETE CASCADE,
  media_id TEXT NOT NULL REFERENCES media_files(id),
  filename TEXT NOT NULL,
  mime_type TEXT NOT NULL,
  size INTEGER NOT NULL
);
CREATE INDEX idx_msg_attachments_message ON msg_attachments(message_id);
CREATE INDEX idx_msg_attachments_media ON msg_attachments(media_id);
)sql";

// The statements both generation and simulation use.
struct Statements {
  Stmt insert_setting, insert_user, insert_profile, insert_media, insert_server, insert_member,
      insert_channel, insert_conversation, insert_conversation_member, insert_message,
      insert_attachment, update_login;

  static StatusOr<Statements> Prepare(Db& db) {
    Statements s;
    PXB_ASSIGN_OR_RETURN(s.insert_setting,
                         db.Prepare("INSERT OR REPLACE INTO sys_settings (key, value, updated_at) "
                                    "VALUES (?1, ?2, ?3)"));
    PXB_ASSIGN_OR_RETURN(
        s.insert_user,
        db.Prepare("INSERT INTO auth_users (id, username, email, password_hash, totp_secret_enc, "
                   "created_at, last_login_at, is_active, is_admin) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7, ?8)"));
    PXB_ASSIGN_OR_RETURN(
        s.insert_profile,
        db.Prepare("INSERT INTO user_profiles (user_id, display_name, bio, avatar_media_id, "
                   "status_text, locale, timezone, updated_at) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
    PXB_ASSIGN_OR_RETURN(
        s.insert_media,
        db.Prepare("INSERT INTO media_files (id, path, mime_type, size, sha256, uploaded_by, "
                   "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    PXB_ASSIGN_OR_RETURN(s.insert_server,
                         db.Prepare("INSERT INTO srv_servers (id, name, owner_id, description, "
                                    "created_at) VALUES (?1, ?2, ?3, ?4, ?5)"));
    PXB_ASSIGN_OR_RETURN(s.insert_member,
                         db.Prepare("INSERT OR IGNORE INTO srv_members (server_id, user_id, role, "
                                    "joined_at) VALUES (?1, ?2, ?3, ?4)"));
    PXB_ASSIGN_OR_RETURN(
        s.insert_channel,
        db.Prepare("INSERT INTO srv_channels (id, server_id, name, topic, kind, position, "
                   "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    PXB_ASSIGN_OR_RETURN(s.insert_conversation,
                         db.Prepare("INSERT INTO msg_conversations (id, kind, channel_id, title, "
                                    "created_at) VALUES (?1, ?2, ?3, ?4, ?5)"));
    PXB_ASSIGN_OR_RETURN(s.insert_conversation_member,
                         db.Prepare("INSERT OR IGNORE INTO msg_conversation_members "
                                    "(conversation_id, user_id, joined_at) VALUES (?1, ?2, ?3)"));
    PXB_ASSIGN_OR_RETURN(
        s.insert_message,
        db.Prepare("INSERT INTO msg_messages (id, conversation_id, sender_id, content, created_at, "
                   "edited_at, deleted, reply_to) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
    PXB_ASSIGN_OR_RETURN(
        s.insert_attachment,
        db.Prepare("INSERT INTO msg_attachments (message_id, media_id, filename, mime_type, size) "
                   "VALUES (?1, ?2, ?3, ?4, ?5)"));
    PXB_ASSIGN_OR_RETURN(s.update_login,
                         db.Prepare("UPDATE auth_users SET last_login_at = ?2 WHERE id = ?1"));
    return s;
  }
};

// ---------------------------------------------------------------------------
// Keys and config.

struct KeyMaterial {
  std::string name, algorithm, purpose, protects;
  size_t bytes;
  std::string secret;
};

struct Instance {
  std::string id, name;
  std::vector<KeyMaterial> keys;
  std::string column_key;  // encrypts auth_users.totp_secret_enc
};

Instance MakeInstance(uint64_t seed) {
  Instance in;
  Rng rng(Mix(seed, kStreamInstance));
  in.id = NewUuid(rng);
  in.name = ServerName(rng);
  Rng key_rng(Mix(seed, kStreamKeys));
  in.keys = {
      {"db-column-2026-01", "aes-256-gcm", "column-encryption", "auth_users.totp_secret_enc", 32,
       ""},
      {"session-signing", "hmac-sha256", "session-tokens", "", 64, ""},
      {"webhook-signing", "hmac-sha256", "webhook-signatures", "", 32, ""},
      {"federation-identity", "ed25519", "federation", "", 32, ""},
  };
  for (KeyMaterial& key : in.keys) key.secret = RandomBytes(key_rng, key.bytes);
  in.column_key = in.keys[0].secret;
  return in;
}

StatusOr<std::string> Sha256Hex(std::string_view data) {
  unsigned char digest[32];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr) != 1) {
    return InternalError("SHA-256 failed");
  }
  return ToHex(ByteView(reinterpret_cast<const std::byte*>(digest), len));
}

struct HomeFile {
  std::string path;  // relative to the home
  std::string content;
  bool secret = false;  // key material: readable by the owner only
};

// The small files whose content follows from the seed alone.
StatusOr<std::vector<HomeFile>> StaticFiles(const Instance& in) {
  std::vector<HomeFile> files;
  std::string ring = "{\n  \"version\": 1,\n  \"instance_id\": \"" + in.id + "\",\n  \"keys\": [\n";
  for (size_t i = 0; i < in.keys.size(); ++i) {
    const KeyMaterial& key = in.keys[i];
    std::string file = key.name + ".key";
    PXB_ASSIGN_OR_RETURN(std::string fingerprint, Sha256Hex(key.secret));
    ring += "    {\n      \"id\": \"" + key.name + "\",\n      \"file\": \"" + file +
            "\",\n      \"algorithm\": \"" + key.algorithm + "\",\n      \"purpose\": \"" +
            key.purpose + "\",\n      \"protects\": [" +
            (key.protects.empty() ? "" : "\"" + key.protects + "\"") +
            "],\n      \"bytes\": " + std::to_string(key.bytes) + ",\n      \"sha256\": \"" +
            fingerprint + "\",\n      \"created_at\": \"" + IsoTime(kStartMs) +
            "\",\n      \"status\": \"active\"\n    }" + (i + 1 < in.keys.size() ? ",\n" : "\n");
    files.push_back({std::string(kPlexiChatKeysDir) + "/" + file, key.secret, true});
  }
  ring += "  ]\n}\n";
  files.push_back({std::string(kPlexiChatKeysDir) + "/keyring.json", ring, true});

  std::string config = "# PlexiChat server configuration. Paths are relative to this home.\n";
  config += "server:\n  name: \"" + in.name + "\"\n  instance_id: " + in.id +
            "\n  host: 0.0.0.0\n  port: 8000\n";
  config += "database:\n  type: sqlite\n  path: " + std::string(kPlexiChatDatabasePath) + "\n";
  config += "media:\n  path: " + std::string(kPlexiChatMediaDir) +
            "\n  max_upload_mb: 100\n  allowed_types: [image/jpeg, image/png, video/mp4, "
            "application/pdf, text/plain, text/x-log, application/json]\n";
  config += "security:\n  keyring: " + std::string(kPlexiChatKeysDir) +
            "/keyring.json\n  encrypted_columns: [auth_users.totp_secret_enc]\n"
            "  session_ttl_hours: 72\n";
  config += "logging:\n  level: info\n  path: logs/plexichat.log\n";
  files.push_back({std::string(kPlexiChatConfigPath), config, false});
  return files;
}

Status WriteFileIfDifferent(const fs::path& path, const std::string& content, bool secret) {
  std::error_code ec;
  if (fs::file_size(path, ec) == content.size() && !ec) {
    std::FILE* in = std::fopen(path.c_str(), "rb");
    if (in != nullptr) {
      std::string existing(content.size(), '\0');
      size_t n = std::fread(existing.data(), 1, existing.size(), in);
      std::fclose(in);
      if (n == content.size() && existing == content) return Status::Ok();
    }
  }
  fs::create_directories(path.parent_path(), ec);
  if (ec) return ErrnoError(ec.value(), "create " + path.parent_path().string());
  std::FILE* out = std::fopen(path.c_str(), "wb");
  if (out == nullptr) return ErrnoError(errno, "open " + path.string());
  bool ok = std::fwrite(content.data(), 1, content.size(), out) == content.size();
  int err = errno;
  if (std::fclose(out) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (!ok) return ErrnoError(err, "write " + path.string());
  if (secret) {
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write, ec);
    if (ec) return ErrnoError(ec.value(), "chmod " + path.string());
  }
  return Status::Ok();
}

Status WriteStaticFiles(const fs::path& home, uint64_t seed) {
  PXB_ASSIGN_OR_RETURN(std::vector<HomeFile> files, StaticFiles(MakeInstance(seed)));
  for (const HomeFile& file : files) {
    PXB_RETURN_IF_ERROR(WriteFileIfDifferent(home / file.path, file.content, file.secret));
  }
  return Status::Ok();
}

// AES-256-GCM under the column key: nonce (12) || ciphertext || tag (16).
StatusOr<std::string> SealColumn(const std::string& key, Rng& rng, const std::string& plaintext) {
  std::string nonce = RandomBytes(rng, 12);
  std::string out = nonce + std::string(plaintext.size() + 16, '\0');
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int len = 0;
  auto* dst = reinterpret_cast<unsigned char*>(out.data() + 12);
  bool ok =
      ctx != nullptr &&
      EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr,
                         reinterpret_cast<const unsigned char*>(key.data()),
                         reinterpret_cast<const unsigned char*>(nonce.data())) == 1 &&
      EVP_EncryptUpdate(ctx, dst, &len, reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) == 1 &&
      EVP_EncryptFinal_ex(ctx, dst + len, &len) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, dst + plaintext.size()) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) return InternalError("AES-256-GCM encryption of a column value failed");
  return out;
}

// ---------------------------------------------------------------------------
// The chat model: who can post where, shared by generation and simulation.

struct Conversation {
  int64_t id = 0;
  int64_t server = -1;  // index into ChatModel::server_members for channels
  bool announcement = false;
  std::vector<int64_t> members;  // direct and group conversations
  std::array<int64_t, 4> recent{};
  uint8_t recent_count = 0;
  uint8_t recent_next = 0;
  bool recent_loaded = true;
};

struct ChatModel {
  std::vector<std::string> usernames;
  std::unordered_set<std::string> taken_usernames;
  std::vector<int64_t> last_seen_ms;                 // by user id; 0 = not seen
  std::vector<std::vector<int64_t>> server_members;  // owner first, then most active
  std::vector<int64_t> server_ids;
  std::vector<Conversation> conversations;  // those messages can go to
  std::vector<uint64_t> cumulative_weight;

  // Zipf-like: the conversation of rank r gets weight 1/(r+1), text channels
  // more, announcement channels less.
  void AssignWeights(Rng& rng) {
    std::vector<uint64_t> rank(conversations.size());
    for (size_t i = 0; i < rank.size(); ++i) rank[i] = i;
    rng.Shuffle(rank);
    cumulative_weight.resize(conversations.size());
    uint64_t total = 0;
    for (size_t i = 0; i < conversations.size(); ++i) {
      const Conversation& c = conversations[i];
      uint64_t factor = c.announcement ? 1 : c.server >= 0 ? 8 : c.members.size() > 2 ? 4 : 2;
      total += (uint64_t{1} << 32) / (rank[i] + 1) * factor;
      cumulative_weight[i] = total;
    }
  }
  void AppendConversation(Conversation c) {
    uint64_t total = cumulative_weight.empty() ? 0 : cumulative_weight.back();
    conversations.push_back(std::move(c));
    cumulative_weight.push_back(total + (uint64_t{1} << 24));
  }
  Conversation& PickConversation(Rng& rng) {
    uint64_t r = rng.Below(cumulative_weight.back());
    size_t i = std::upper_bound(cumulative_weight.begin(), cumulative_weight.end(), r) -
               cumulative_weight.begin();
    return conversations[i];
  }
  int64_t PickSender(Rng& rng, const Conversation& c) const {
    const std::vector<int64_t>& pool = c.server >= 0 ? server_members[c.server] : c.members;
    if (c.announcement) return pool[rng.Below(std::min<size_t>(pool.size(), 3))];
    if (c.server >= 0) return pool[rng.Skewed(pool.size())];
    return pool[rng.Below(pool.size())];
  }
  void Seen(int64_t user, int64_t t) {
    if (static_cast<size_t>(user) >= last_seen_ms.size()) last_seen_ms.resize(user + 1, 0);
    last_seen_ms[user] = std::max(last_seen_ms[user], t);
  }
  std::string UniqueUsername(Rng& rng, std::string_view first, std::string_view last) {
    static constexpr std::string_view kSeparators[] = {".", "_", "", "-"};
    std::string name = std::string(first) + std::string(rng.Pick(kSeparators)) + std::string(last);
    if (rng.PerMille(300)) name += std::to_string(rng.Below(100));
    std::string candidate = name;
    for (uint64_t n = 2; taken_usernames.count(candidate) > 0; ++n) {
      candidate = name + std::to_string(n);
    }
    taken_usernames.insert(candidate);
    usernames.push_back(candidate);
    return candidate;
  }
};

std::string Title(std::string_view word) {
  std::string s(word);
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<uint8_t>(s[0])));
  return s;
}

// Writes a media file and its row.
Status InsertMedia(Statements& st, const fs::path& media_dir, const MediaItem& item,
                   int64_t uploader, int64_t created_ms) {
  std::string rel = MediaRelativePath(item, created_ms);
  PXB_ASSIGN_OR_RETURN(std::string sha, WriteMediaFile(media_dir, rel, item));
  return st.insert_media.Bind(1, item.id)
      .Bind(2, rel)
      .Bind(3, InfoOf(item.kind).mime)
      .Bind(4, item.size)
      .Bind(5, sha)
      .Bind(6, uploader)
      .Bind(7, IsoTime(created_ms))
      .Run();
}

// Inserts a user, the avatar they uploaded (if any) and their profile. The
// column key encrypts a TOTP secret for some users; without a 32-byte key
// none get one.
Status InsertUser(Statements& st, ChatModel& model, Rng& rng, const std::string& column_key,
                  const fs::path& media_dir, int64_t id, int64_t created_ms, bool admin,
                  const MediaItem* avatar) {
  std::string_view first = rng.Pick(kFirstNames);
  std::string_view last = rng.Pick(kLastNames);
  std::string username = model.UniqueUsername(rng, first, last);
  std::string email = username + "@" + std::string(rng.Pick(kEmailDomains));
  // One draw per statement: the order in which operands of + are evaluated
  // is unspecified, and the output must not depend on the compiler.
  std::string salt = Base64NoPad(RandomBytes(rng, 16));
  std::string digest = Base64NoPad(RandomBytes(rng, 32));
  std::string hash = "$argon2id$v=19$m=65536,t=3,p=4$" + salt + "$" + digest;
  bool active = rng.PerMille(970);
  st.insert_user.Bind(1, id).Bind(2, username).Bind(3, email).Bind(4, hash);
  if (column_key.size() == 32 && rng.PerMille(200)) {
    PXB_ASSIGN_OR_RETURN(std::string sealed, SealColumn(column_key, rng, RandomBytes(rng, 20)));
    st.insert_user.BindBlob(5, sealed);
  } else {
    st.insert_user.BindNull(5);
  }
  PXB_RETURN_IF_ERROR(
      st.insert_user.Bind(6, IsoTime(created_ms)).Bind(7, active).Bind(8, admin).Run());

  std::optional<std::string> avatar_id;
  int64_t updated_ms = created_ms + static_cast<int64_t>(rng.Below(2 * kHourMs));
  if (avatar != nullptr) {
    PXB_RETURN_IF_ERROR(InsertMedia(st, media_dir, *avatar, id, updated_ms));
    avatar_id = avatar->id;
  }
  const auto& [locale, timezone] = rng.Pick(kLocales);
  std::optional<std::string> bio, status_text;
  if (rng.PerMille(450)) {
    ChatText text(&model.usernames);
    if (rng.PerMille(500)) {
      bio = text.Sentences(rng, rng.Between(1, 3));
    } else {
      bio = std::string();
      text.Expand(rng, "{t} person. {n} enthusiast {e}", *bio);
      *bio = Title(*bio);
    }
  }
  if (rng.PerMille(250)) status_text = std::string(rng.Pick(kStatusTexts));
  return st.insert_profile.Bind(1, id)
      .Bind(2, Title(first) + " " + Title(last))
      .Bind(3, bio)
      .Bind(4, avatar_id)
      .Bind(5, status_text)
      .Bind(6, locale)
      .Bind(7, timezone)
      .Bind(8, IsoTime(updated_ms))
      .Run();
}

// Loads the newest messages of a conversation, for replies, when the model was
// read from an existing database.
struct RecentLoader {
  Stmt* query = nullptr;
  Status Load(Conversation& c) {
    c.recent_loaded = true;
    if (query == nullptr) return Status::Ok();
    query->Bind(1, c.id);
    while (true) {
      PXB_ASSIGN_OR_RETURN(bool row, query->Next());
      if (!row) break;
      c.recent[c.recent_next] = query->Int(0);
      c.recent_next = static_cast<uint8_t>((c.recent_next + 1) % c.recent.size());
      c.recent_count = static_cast<uint8_t>(std::min<size_t>(c.recent_count + 1, c.recent.size()));
    }
    return Status::Ok();
  }
};

// Inserts message `id` at time `t` with its attachments. A message of a live
// server is neither edited nor deleted when it is created: `history` marks
// generated history, where some already are.
Status InsertMessage(Statements& st, ChatModel& model, ChatText& text, Rng& rng,
                     const fs::path& media_dir, RecentLoader& loader, int64_t id, int64_t t,
                     std::span<const MediaItem> attachments, bool history) {
  Conversation& c = model.PickConversation(rng);
  if (!c.recent_loaded) PXB_RETURN_IF_ERROR(loader.Load(c));
  int64_t sender = model.PickSender(rng, c);
  std::string content =
      !attachments.empty() && rng.PerMille(400) ? std::string() : text.Message(rng);
  st.insert_message.Bind(1, id).Bind(2, c.id).Bind(3, sender).Bind(4, content).Bind(5, IsoTime(t));
  if (history && rng.PerMille(30)) {
    int64_t edited = t + static_cast<int64_t>(rng.Between(30 * kSecondMs, 2 * kHourMs));
    st.insert_message.Bind(6, IsoTime(edited));
  } else {
    st.insert_message.BindNull(6);
  }
  st.insert_message.Bind(7, history && rng.PerMille(10));
  if (c.recent_count > 0 && rng.PerMille(120)) {
    st.insert_message.Bind(8, c.recent[rng.Below(c.recent_count)]);
  } else {
    st.insert_message.BindNull(8);
  }
  PXB_RETURN_IF_ERROR(st.insert_message.Run());
  for (const MediaItem& item : attachments) {
    PXB_RETURN_IF_ERROR(InsertMedia(st, media_dir, item, sender, t));
    PXB_RETURN_IF_ERROR(st.insert_attachment.Bind(1, id)
                            .Bind(2, item.id)
                            .Bind(3, OriginalFilename(rng, item.kind, t))
                            .Bind(4, InfoOf(item.kind).mime)
                            .Bind(5, item.size)
                            .Run());
  }
  c.recent[c.recent_next] = id;
  c.recent_next = static_cast<uint8_t>((c.recent_next + 1) % c.recent.size());
  c.recent_count = static_cast<uint8_t>(std::min<size_t>(c.recent_count + 1, c.recent.size()));
  model.Seen(sender, t);
  return Status::Ok();
}

// Sets last_login_at of every user seen to shortly after they were last seen.
Status UpdateLogins(Statements& st, const ChatModel& model, Rng& rng, Transaction& tx) {
  for (size_t user = 1; user < model.last_seen_ms.size(); ++user) {
    if (model.last_seen_ms[user] == 0) continue;
    int64_t t = model.last_seen_ms[user] + static_cast<int64_t>(rng.Below(kHourMs));
    PXB_RETURN_IF_ERROR(st.update_login.Bind(1, user).Bind(2, IsoTime(t)).Run());
    PXB_RETURN_IF_ERROR(tx.Tick());
  }
  return Status::Ok();
}

// Positions of `count` attachments among `messages` messages, sorted; a
// message may get more than one.
std::vector<uint64_t> AttachmentPositions(Rng& rng, uint64_t count, uint64_t messages) {
  std::vector<uint64_t> positions(count);
  for (uint64_t& p : positions) p = rng.Below(messages);
  std::sort(positions.begin(), positions.end());
  return positions;
}

// The attachments of message `index` (0-based), advancing `next`.
std::span<const MediaItem> AttachmentsOf(uint64_t index, const std::vector<uint64_t>& positions,
                                         std::span<const MediaItem> items, size_t& next) {
  size_t first = next;
  while (next < positions.size() && positions[next] == index) ++next;
  return items.subspan(first, next - first);
}

// ---------------------------------------------------------------------------
// Generation.

constexpr std::string_view kSpecSetting = "sample.generator_spec";
constexpr uint64_t kMaxServerMembers = 5000;

struct Counts {
  uint32_t avatars = 0;
  uint32_t attachments = 0;
};

StatusOr<Counts> CheckSpec(const PlexiChatHomeSpec& spec) {
  auto invalid = [&](std::string_view why) {
    return InvalidArgumentError("PlexiChat home spec {" + PlexiChatHomeSpecString(spec) +
                                "}: " + std::string(why));
  };
  if (spec.users < 2) return invalid("needs at least 2 users");
  if (spec.users > 100'000'000) return invalid("at most 100000000 users");
  if (spec.channels_per_server > 1000) return invalid("at most 1000 channels per server");
  if (spec.messages > 0 && spec.conversations == 0 &&
      (spec.servers == 0 || spec.channels_per_server == 0)) {
    return invalid("messages need a conversation or a channel");
  }
  Counts counts;
  counts.avatars = spec.messages > 0 ? std::min(spec.users, spec.media_files / 6)
                                     : std::min(spec.users, spec.media_files);
  counts.attachments = spec.media_files - counts.avatars;
  if (counts.attachments > 0 && spec.messages == 0) {
    return invalid("more media files than users, and no messages to attach them to");
  }
  return counts;
}

class HomeGenerator {
 public:
  HomeGenerator(const fs::path& home, const PlexiChatHomeSpec& spec, Counts counts)
      : home_(home),
        media_dir_(home / kPlexiChatMediaDir),
        spec_(spec),
        counts_(counts),
        instance_(MakeInstance(spec.seed)),
        text_(&model_.usernames) {}

  // Writes the database under a temporary name and renames it last, so that a
  // database at the final path is always complete.
  Status Run() {
    PXB_RETURN_IF_ERROR(WriteStaticFiles(home_, spec_.seed));
    fs::path db_path = home_ / kPlexiChatDatabasePath;
    fs::path tmp_path = db_path;
    tmp_path += ".generating";
    std::error_code ec;
    fs::create_directories(db_path.parent_path(), ec);
    if (ec) return ErrnoError(ec.value(), "create " + db_path.parent_path().string());
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      fs::path stale = tmp_path;
      stale += suffix;
      fs::remove(stale, ec);
      if (ec) return ErrnoError(ec.value(), "remove " + stale.string());
    }
    PXB_ASSIGN_OR_RETURN(db_, Db::Open(tmp_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
    PXB_RETURN_IF_ERROR(WriteDatabase());
    st_ = Statements();  // finalized before the database closes
    PXB_RETURN_IF_ERROR(db_->FinishAsSingleFile());
    db_.reset();
    fs::rename(tmp_path, db_path, ec);
    if (ec) {
      return ErrnoError(ec.value(), "rename " + tmp_path.string() + " to " + db_path.string());
    }
    return Status::Ok();
  }

 private:
  Status WriteDatabase() {
    // Bulk load: durability matters only from the final checkpoint on.
    PXB_RETURN_IF_ERROR(db_->Exec("PRAGMA page_size = 4096"));
    PXB_RETURN_IF_ERROR(db_->Exec("PRAGMA journal_mode = WAL"));
    PXB_RETURN_IF_ERROR(db_->Exec("PRAGMA synchronous = OFF"));
    PXB_RETURN_IF_ERROR(db_->Exec("PRAGMA foreign_keys = ON"));
    // Up to 256 MiB, allocated as used: the message indexes of the large
    // preset thrash a smaller cache.
    PXB_RETURN_IF_ERROR(db_->Exec("PRAGMA cache_size = -262144"));
    PXB_RETURN_IF_ERROR(db_->Exec(std::string(kSchema)));
    PXB_ASSIGN_OR_RETURN(st_, Statements::Prepare(*db_));
    Transaction tx(*db_);
    PXB_RETURN_IF_ERROR(tx.Begin());
    PXB_RETURN_IF_ERROR(WriteSettings());
    PXB_RETURN_IF_ERROR(WriteUsers(tx));
    PXB_RETURN_IF_ERROR(WriteServers(tx));
    PXB_RETURN_IF_ERROR(WriteConversations(tx));
    PXB_RETURN_IF_ERROR(WriteMessages(tx));
    PXB_RETURN_IF_ERROR(WriteLogins(tx));
    return tx.Commit();
  }

  Status WriteSettings() {
    std::string t = IsoTime(kStartMs);
    const std::pair<std::string_view, std::string> settings[] = {
        {"schema_version", "14"},          {"instance.id", instance_.id},
        {"instance.name", instance_.name}, {"registration.open", "true"},
        {"media.max_upload_mb", "100"},    {kSpecSetting, PlexiChatHomeSpecString(spec_)},
    };
    for (const auto& [key, value] : settings) {
      PXB_RETURN_IF_ERROR(st_.insert_setting.Bind(1, key).Bind(2, value).Bind(3, t).Run());
    }
    return Status::Ok();
  }

  // Users sign up over the first two weeks; some upload an avatar.
  Status WriteUsers(Transaction& tx) {
    Rng plan_rng(Mix(spec_.seed, kStreamMediaPlan));
    media_.resize(spec_.media_files);
    for (uint32_t i = 0; i < spec_.media_files; ++i) {
      media_[i].id = NewUuid(plan_rng);
      media_[i].avatar = i < counts_.avatars;
      media_[i].kind = media_[i].avatar
                           ? (plan_rng.PerMille(700) ? MediaKind::kJpeg : MediaKind::kPng)
                           : PickAttachmentKind(plan_rng);
    }
    PlanMediaSizes(plan_rng, media_, spec_.media_bytes);

    Rng rng(Mix(spec_.seed, kStreamUsers));
    std::vector<uint32_t> order(spec_.users);
    for (uint32_t i = 0; i < spec_.users; ++i) order[i] = i;
    rng.Shuffle(order);
    std::vector<int64_t> avatar_of(spec_.users, -1);
    for (uint32_t a = 0; a < counts_.avatars; ++a) avatar_of[order[a]] = a;

    model_.usernames.reserve(spec_.users);
    user_created_ms_.assign(spec_.users + 1, 0);
    const int64_t signup_span = 14 * kDayMs;
    for (uint32_t i = 0; i < spec_.users; ++i) {
      int64_t id = i + 1;
      int64_t created = kStartMs + signup_span * i / spec_.users +
                        static_cast<int64_t>(rng.Below(signup_span / spec_.users + 1));
      user_created_ms_[id] = created;
      const MediaItem* avatar = avatar_of[i] >= 0 ? &media_[avatar_of[i]] : nullptr;
      bool admin = id == 1 || rng.PerMille(10);
      PXB_RETURN_IF_ERROR(InsertUser(st_, model_, rng, instance_.column_key, media_dir_, id,
                                     created, admin, avatar));
      PXB_RETURN_IF_ERROR(tx.Tick(avatar != nullptr ? 3 : 2));
    }
    return Status::Ok();
  }

  // Servers open after the signups; each has an owner, a share of the users
  // as members and its channels, each channel with its conversation.
  Status WriteServers(Transaction& tx) {
    Rng rng(Mix(spec_.seed, kStreamServers));
    const int64_t base = kStartMs + 14 * kDayMs;
    std::vector<int64_t> users(spec_.users);
    for (uint32_t i = 0; i < spec_.users; ++i) users[i] = i + 1;
    int64_t channel_id = 0;
    for (uint32_t s = 0; s < spec_.servers; ++s) {
      const int64_t id = s + 1;
      const int64_t created =
          base + s * 17 * kMinuteMs + static_cast<int64_t>(rng.Below(10 * kMinuteMs));
      const int64_t owner = 1 + static_cast<int64_t>(rng.Skewed(spec_.users));
      std::string name = ServerName(rng);
      std::string description;
      text_.Expand(rng, "A place for {t} fans: {n} talk, {a} ideas and more.", description);
      PXB_RETURN_IF_ERROR(st_.insert_server.Bind(1, id)
                              .Bind(2, name)
                              .Bind(3, owner)
                              .Bind(4, description)
                              .Bind(5, IsoTime(created))
                              .Run());

      // Members: the owner first, then a partial shuffle of the users; the
      // earlier a member comes, the more they post.
      uint64_t count = std::clamp<uint64_t>(spec_.users * rng.Between(50, 600) / 1000, 1,
                                            std::min<uint64_t>(spec_.users, kMaxServerMembers));
      std::vector<int64_t> members = {owner};
      for (uint64_t k = 0; k < users.size() && members.size() < count; ++k) {
        std::swap(users[k], users[k + rng.Below(users.size() - k)]);
        if (users[k] != owner) members.push_back(users[k]);
      }
      for (size_t m = 0; m < members.size(); ++m) {
        const char* role = m == 0 ? "owner" : rng.PerMille(20) ? "moderator" : "member";
        int64_t joined = m == 0 ? created : created + static_cast<int64_t>(rng.Below(20 * kDayMs));
        PXB_RETURN_IF_ERROR(st_.insert_member.Bind(1, id)
                                .Bind(2, members[m])
                                .Bind(3, role)
                                .Bind(4, IsoTime(joined))
                                .Run());
        PXB_RETURN_IF_ERROR(tx.Tick());
      }
      model_.server_ids.push_back(id);
      model_.server_members.push_back(std::move(members));

      // Channels: #general, #announcements, then text channels with a voice
      // channel every fourth position.
      const uint64_t text_start = rng.Below(std::size(kTextChannels));
      const uint64_t voice_start = rng.Below(std::size(kVoiceChannels));
      uint64_t texts = 0, voices = 0;
      for (uint32_t p = 0; p < spec_.channels_per_server; ++p) {
        std::string channel;
        std::string_view kind = "text";
        std::optional<std::string> topic;
        if (p == 0) {
          channel = "general";
        } else if (p == 1) {
          channel = "announcements";
          kind = "announcement";
          topic = "News from the " + name + " team";
        } else if (p % 4 == 3) {
          kind = "voice";
          channel = NthName(kVoiceChannels, voice_start, voices++);
        } else {
          channel = NthName(kTextChannels, text_start, texts++);
        }
        if (!topic && kind != "voice" && rng.PerMille(600)) topic = text_.Sentences(rng, 1);
        const int64_t channel_created = created + p * 2 * kMinuteMs;
        PXB_RETURN_IF_ERROR(st_.insert_channel.Bind(1, ++channel_id)
                                .Bind(2, id)
                                .Bind(3, channel)
                                .Bind(4, topic)
                                .Bind(5, kind)
                                .Bind(6, p)
                                .Bind(7, IsoTime(channel_created))
                                .Run());
        const int64_t conversation = ++conversation_id_;
        PXB_RETURN_IF_ERROR(st_.insert_conversation.Bind(1, conversation)
                                .Bind(2, "channel")
                                .Bind(3, channel_id)
                                .BindNull(4)
                                .Bind(5, IsoTime(channel_created))
                                .Run());
        PXB_RETURN_IF_ERROR(tx.Tick(2));
        if (kind != "voice") {
          Conversation c;
          c.id = conversation;
          c.server = s;
          c.announcement = kind == "announcement";
          model_.conversations.push_back(std::move(c));
        }
      }
    }
    return Status::Ok();
  }

  // Names from a list starting at `start`, numbered once the list runs out.
  template <typename List>
  static std::string NthName(const List& list, uint64_t start, uint64_t n) {
    std::string name(list[(start + n) % std::size(list)]);
    if (n >= std::size(list)) name += "-" + std::to_string(n / std::size(list) + 1);
    return name;
  }

  // Direct conversations between two users and group conversations of 3 to 12.
  Status WriteConversations(Transaction& tx) {
    Rng rng(Mix(spec_.seed, kStreamConversations));
    const int64_t base = kStartMs + 15 * kDayMs;
    const int64_t span = kDayMs;
    std::unordered_set<uint64_t> pairs;
    for (uint32_t i = 0; i < spec_.conversations; ++i) {
      const int64_t id = ++conversation_id_;
      const int64_t created = base + span * i / spec_.conversations +
                              static_cast<int64_t>(rng.Below(span / spec_.conversations + 1));
      const bool group = spec_.users >= 3 && rng.PerMille(200);
      std::vector<int64_t> members;
      std::optional<std::string> title;
      if (group) {
        uint64_t size = rng.Between(3, std::min<uint64_t>(12, spec_.users));
        while (members.size() < size) {
          int64_t u = 1 + static_cast<int64_t>(rng.Below(spec_.users));
          if (std::find(members.begin(), members.end(), u) == members.end()) members.push_back(u);
        }
        std::string t;
        text_.Expand(rng, rng.PerMille(700) ? "{n} {n} crew" : "{t} {n}s {e}", t);
        title = Title(t);
      } else {
        int64_t a = 0, b = 0;
        for (int attempt = 0; attempt < 8; ++attempt) {
          a = 1 + static_cast<int64_t>(rng.Skewed(spec_.users));
          b = 1 + static_cast<int64_t>(rng.Below(spec_.users - 1));
          if (b >= a) ++b;
          uint64_t key = (static_cast<uint64_t>(std::min(a, b)) << 32) | std::max(a, b);
          if (pairs.insert(key).second) break;
        }
        members = {a, b};
      }
      PXB_RETURN_IF_ERROR(st_.insert_conversation.Bind(1, id)
                              .Bind(2, group ? "group" : "direct")
                              .BindNull(3)
                              .Bind(4, title)
                              .Bind(5, IsoTime(created))
                              .Run());
      for (size_t m = 0; m < members.size(); ++m) {
        int64_t joined = m == 0 ? created : created + static_cast<int64_t>(rng.Below(kHourMs));
        PXB_RETURN_IF_ERROR(st_.insert_conversation_member.Bind(1, id)
                                .Bind(2, members[m])
                                .Bind(3, IsoTime(joined))
                                .Run());
      }
      PXB_RETURN_IF_ERROR(tx.Tick(1 + static_cast<int>(members.size())));
      Conversation c;
      c.id = id;
      c.members = std::move(members);
      model_.conversations.push_back(std::move(c));
    }
    return Status::Ok();
  }

  // Messages from day 16 to about day 180, in time order.
  Status WriteMessages(Transaction& tx) {
    if (spec_.messages == 0) return Status::Ok();
    if (model_.conversations.empty()) return InternalError("no conversation to post messages in");
    Rng rng(Mix(spec_.seed, kStreamMessages));
    model_.AssignWeights(rng);
    Rng position_rng(Mix(spec_.seed, kStreamMediaPlan + 100));
    std::vector<uint64_t> positions =
        AttachmentPositions(position_rng, counts_.attachments, spec_.messages);
    std::span<const MediaItem> attachments(media_.data() + counts_.avatars, counts_.attachments);
    const int64_t start = kStartMs + 16 * kDayMs;
    const int64_t mean_gap =
        std::max<int64_t>(1, (164 * kDayMs) / static_cast<int64_t>(spec_.messages));
    RecentLoader loader;
    size_t next = 0;
    int64_t t = start;
    for (uint64_t i = 0; i < spec_.messages; ++i) {
      t += NextGap(rng, mean_gap, t);
      std::span<const MediaItem> mine = AttachmentsOf(i, positions, attachments, next);
      PXB_RETURN_IF_ERROR(InsertMessage(st_, model_, text_, rng, media_dir_, loader,
                                        static_cast<int64_t>(i + 1), t, mine, /*history=*/true));
      PXB_RETURN_IF_ERROR(tx.Tick(1 + 2 * static_cast<int>(mine.size())));
    }
    return Status::Ok();
  }

  // Users who never posted still logged in after signing up, mostly.
  Status WriteLogins(Transaction& tx) {
    Rng rng(Mix(spec_.seed, kStreamUsers + 100));
    model_.last_seen_ms.resize(std::max<size_t>(model_.last_seen_ms.size(), spec_.users + 1), 0);
    for (uint32_t id = 1; id <= spec_.users; ++id) {
      if (model_.last_seen_ms[id] == 0 && rng.PerMille(800)) {
        model_.Seen(id, user_created_ms_[id] + static_cast<int64_t>(rng.Below(3 * kDayMs)));
      }
    }
    return UpdateLogins(st_, model_, rng, tx);
  }

  fs::path home_;
  fs::path media_dir_;
  PlexiChatHomeSpec spec_;
  Counts counts_;
  Instance instance_;
  ChatModel model_;
  ChatText text_;
  std::unique_ptr<Db> db_;
  Statements st_;
  std::vector<MediaItem> media_;
  std::vector<int64_t> user_created_ms_;
  int64_t conversation_id_ = 0;
};

// The spec a generated database records, or nullopt for a database this
// generator did not write.
StatusOr<std::optional<std::string>> ReadGeneratorSpec(Db& db) {
  PXB_ASSIGN_OR_RETURN(int64_t tables,
                       db.QueryInt("SELECT COUNT(*) FROM sqlite_master "
                                   "WHERE type = 'table' AND name = 'sys_settings'"));
  if (tables == 0) return std::optional<std::string>();
  PXB_ASSIGN_OR_RETURN(Stmt query, db.Prepare("SELECT value FROM sys_settings WHERE key = ?1"));
  query.Bind(1, kSpecSetting);
  PXB_ASSIGN_OR_RETURN(bool row, query.Next());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(query.Text(0));
}

// Rewrites the static files and every media file that is missing or has the
// wrong size; the database is left alone.
Status TopUp(const fs::path& home, const PlexiChatHomeSpec& spec, Db& db) {
  PXB_RETURN_IF_ERROR(WriteStaticFiles(home, spec.seed));
  const fs::path media_dir = home / kPlexiChatMediaDir;
  PXB_ASSIGN_OR_RETURN(
      Stmt query,
      db.Prepare("SELECT id, path, mime_type, size, sha256 FROM media_files ORDER BY id"));
  while (true) {
    PXB_ASSIGN_OR_RETURN(bool row, query.Next());
    if (!row) break;
    MediaItem item;
    item.id = query.Text(0);
    const std::string rel = query.Text(1);
    item.size = static_cast<uint64_t>(query.Int(3));
    std::error_code ec;
    uint64_t size = fs::file_size(media_dir / rel, ec);
    if (!ec && size == item.size) continue;
    std::optional<MediaKind> kind = KindFromMime(query.Text(2));
    if (!kind) {
      return FailedPreconditionError("media file " + item.id + ": unknown mime type '" +
                                     query.Text(2) + "'");
    }
    item.kind = *kind;
    PXB_ASSIGN_OR_RETURN(std::string sha, WriteMediaFile(media_dir, rel, item));
    if (sha != query.Text(4)) {
      return DataLossError("media/" + rel + ": rewritten file does not match its recorded sha256");
    }
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Simulation.

StatusOr<std::string> ReadSmallFile(const fs::path& path) {
  std::FILE* in = std::fopen(path.c_str(), "rb");
  if (in == nullptr) return ErrnoError(errno, "open " + path.string());
  std::string data;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), in)) > 0) data.append(buf, n);
  bool failed = std::ferror(in) != 0;
  std::fclose(in);
  if (failed) return ErrnoError(EIO, "read " + path.string());
  return data;
}

class ActivitySimulator {
 public:
  ActivitySimulator(const fs::path& home, Db& db)
      : home_(home), db_(db), text_(&model_.usernames) {}

  Status Run(uint64_t seed, uint64_t new_messages, uint64_t edits) {
    PXB_ASSIGN_OR_RETURN(
        int64_t tables,
        db_.QueryInt("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                     "('auth_users', 'user_profiles', 'srv_members', 'msg_conversations', "
                     "'msg_messages', 'media_files')"));
    if (tables != 6) {
      return FailedPreconditionError(db_.path() + " does not hold the PlexiChat tables");
    }
    PXB_ASSIGN_OR_RETURN(max_message_,
                         db_.QueryInt("SELECT COALESCE(MAX(id), 0) FROM msg_messages"));
    PXB_ASSIGN_OR_RETURN(editable_, db_.QueryInt("SELECT COUNT(*) FROM msg_messages "
                                                 "WHERE edited_at IS NULL AND deleted = 0"));
    if (static_cast<uint64_t>(editable_) < edits) {
      return InvalidArgumentError("cannot edit " + std::to_string(edits) + " messages: only " +
                                  std::to_string(editable_) + " are neither edited nor deleted");
    }
    PXB_ASSIGN_OR_RETURN(int64_t max_user,
                         db_.QueryInt("SELECT COALESCE(MAX(id), 0) FROM auth_users"));
    PXB_ASSIGN_OR_RETURN(max_conversation_,
                         db_.QueryInt("SELECT COALESCE(MAX(id), 0) FROM msg_conversations"));
    PXB_ASSIGN_OR_RETURN(int64_t media_count, db_.QueryInt("SELECT COUNT(*) FROM media_files"));
    PXB_ASSIGN_OR_RETURN(int64_t media_bytes,
                         db_.QueryInt("SELECT COALESCE(SUM(size), 0) FROM media_files"));
    PXB_ASSIGN_OR_RETURN(
        std::string latest,
        db_.QueryText("SELECT MAX(t) FROM (SELECT MAX(created_at) AS t FROM msg_messages "
                      "UNION ALL SELECT MAX(edited_at) FROM msg_messages "
                      "UNION ALL SELECT MAX(created_at) FROM auth_users "
                      "UNION ALL SELECT MAX(last_login_at) FROM auth_users "
                      "UNION ALL SELECT MAX(created_at) FROM media_files "
                      "UNION ALL SELECT MAX(created_at) FROM msg_conversations)"));
    // Mixing in the state makes a second call with the same seed new data.
    Rng rng(Mix(Mix(seed, kStreamSimulation),
                Mix(static_cast<uint64_t>(max_message_),
                    Mix(static_cast<uint64_t>(max_user), static_cast<uint64_t>(media_count)))));
    t_ = ParseIsoTime(latest).value_or(kStartMs) +
         static_cast<int64_t>(rng.Between(kMinuteMs, 10 * kMinuteMs));

    PXB_RETURN_IF_ERROR(LoadModel());
    if (model_.conversations.empty() && new_messages > 0) {
      return FailedPreconditionError(db_.path() + " has no conversation to post messages in");
    }
    model_.AssignWeights(rng);

    // A live server writes through its write-ahead log.
    PXB_RETURN_IF_ERROR(db_.Exec("PRAGMA foreign_keys = ON"));
    PXB_RETURN_IF_ERROR(db_.Exec("PRAGMA journal_mode = WAL"));
    PXB_RETURN_IF_ERROR(db_.Exec("PRAGMA synchronous = NORMAL"));
    {
      PXB_ASSIGN_OR_RETURN(st_, Statements::Prepare(db_));
      PXB_ASSIGN_OR_RETURN(recent_, db_.Prepare("SELECT id FROM msg_messages WHERE "
                                                "conversation_id = ?1 ORDER BY created_at DESC, "
                                                "id DESC LIMIT 4"));
      PXB_ASSIGN_OR_RETURN(edit_replace_,
                           db_.Prepare("UPDATE msg_messages SET content = ?2, edited_at = ?3 "
                                       "WHERE id = ?1 AND id <= ?4 AND edited_at IS NULL AND "
                                       "deleted = 0"));
      PXB_ASSIGN_OR_RETURN(edit_append_,
                           db_.Prepare("UPDATE msg_messages SET content = content || ?2, "
                                       "edited_at = ?3 WHERE id = ?1 AND id <= ?4 AND "
                                       "edited_at IS NULL AND deleted = 0"));
      PXB_ASSIGN_OR_RETURN(nth_editable_,
                           db_.Prepare("SELECT id FROM msg_messages WHERE id <= ?1 AND "
                                       "edited_at IS NULL AND deleted = 0 ORDER BY id "
                                       "LIMIT 1 OFFSET ?2"));
      Transaction tx(db_);
      PXB_RETURN_IF_ERROR(tx.Begin());
      PXB_RETURN_IF_ERROR(AddUsers(rng, tx, max_user, (new_messages + 999) / 1000));

      const uint64_t attachment_count = (new_messages + 75) / 150;
      std::vector<MediaItem> items(attachment_count);
      for (MediaItem& item : items) {
        item.id = NewUuid(rng);
        item.kind = PickAttachmentKind(rng);
      }
      const uint64_t mean_size =
          media_count > 0 ? static_cast<uint64_t>(media_bytes / media_count) : 160'000;
      PlanMediaSizes(rng, items, mean_size * attachment_count);
      std::vector<uint64_t> positions = AttachmentPositions(rng, attachment_count, new_messages);

      RecentLoader loader{&recent_};
      const fs::path media_dir = home_ / kPlexiChatMediaDir;
      const uint64_t ops = new_messages + edits;
      uint64_t done_edits = 0, done_messages = 0;
      size_t next = 0;
      for (uint64_t op = 0; op < ops; ++op) {
        t_ += NextGap(rng, 15 * kSecondMs, t_);
        // Edits spread evenly among the new messages.
        bool edit = static_cast<uint64_t>(static_cast<unsigned __int128>(op + 1) * edits / ops) >
                    done_edits;
        if (edit) {
          PXB_RETURN_IF_ERROR(EditOne(rng, static_cast<uint64_t>(editable_) - done_edits));
          ++done_edits;
        } else {
          std::span<const MediaItem> mine = AttachmentsOf(done_messages, positions, items, next);
          PXB_RETURN_IF_ERROR(InsertMessage(st_, model_, text_, rng, media_dir, loader,
                                            max_message_ + 1 + static_cast<int64_t>(done_messages),
                                            t_, mine, false));
          ++done_messages;
        }
        PXB_RETURN_IF_ERROR(tx.Tick());
      }
      PXB_RETURN_IF_ERROR(UpdateLogins(st_, model_, rng, tx));
      PXB_RETURN_IF_ERROR(tx.Commit());
      st_ = Statements();
      recent_ = Stmt();
      edit_replace_ = Stmt();
      edit_append_ = Stmt();
      nth_editable_ = Stmt();
    }
    return db_.FinishAsSingleFile();
  }

 private:
  Status LoadModel() {
    {
      PXB_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("SELECT id, username FROM auth_users ORDER BY id"));
      while (true) {
        PXB_ASSIGN_OR_RETURN(bool row, q.Next());
        if (!row) break;
        user_ids_.push_back(q.Int(0));
        model_.usernames.push_back(q.Text(1));
        model_.taken_usernames.insert(model_.usernames.back());
      }
    }
    std::unordered_map<int64_t, size_t> server_index;
    {
      PXB_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("SELECT id FROM srv_servers WHERE deleted = 0 "
                                               "ORDER BY id"));
      while (true) {
        PXB_ASSIGN_OR_RETURN(bool row, q.Next());
        if (!row) break;
        server_index[q.Int(0)] = model_.server_ids.size();
        model_.server_ids.push_back(q.Int(0));
        model_.server_members.emplace_back();
      }
    }
    {
      PXB_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("SELECT server_id, user_id FROM srv_members "
                                               "ORDER BY server_id, role = 'owner' DESC, "
                                               "joined_at, user_id"));
      while (true) {
        PXB_ASSIGN_OR_RETURN(bool row, q.Next());
        if (!row) break;
        auto it = server_index.find(q.Int(0));
        if (it != server_index.end()) model_.server_members[it->second].push_back(q.Int(1));
      }
    }
    std::unordered_map<int64_t, std::vector<int64_t>> members;
    {
      PXB_ASSIGN_OR_RETURN(Stmt q, db_.Prepare("SELECT conversation_id, user_id FROM "
                                               "msg_conversation_members ORDER BY "
                                               "conversation_id, joined_at, user_id"));
      while (true) {
        PXB_ASSIGN_OR_RETURN(bool row, q.Next());
        if (!row) break;
        members[q.Int(0)].push_back(q.Int(1));
      }
    }
    PXB_ASSIGN_OR_RETURN(
        Stmt q, db_.Prepare("SELECT c.id, c.kind, ch.kind, ch.server_id FROM msg_conversations c "
                            "LEFT JOIN srv_channels ch ON ch.id = c.channel_id ORDER BY c.id"));
    while (true) {
      PXB_ASSIGN_OR_RETURN(bool row, q.Next());
      if (!row) break;
      Conversation c;
      c.id = q.Int(0);
      c.recent_loaded = false;
      if (q.Text(1) == "channel") {
        auto it = server_index.find(q.Int(3));
        if (q.Text(2) == "voice" || it == server_index.end() ||
            model_.server_members[it->second].empty()) {
          continue;
        }
        c.server = static_cast<int64_t>(it->second);
        c.announcement = q.Text(2) == "announcement";
      } else {
        auto it = members.find(c.id);
        if (it == members.end()) continue;
        c.members = std::move(it->second);
      }
      model_.conversations.push_back(std::move(c));
    }
    return Status::Ok();
  }

  // New users sign up, join a server or two and start a direct conversation.
  Status AddUsers(Rng& rng, Transaction& tx, int64_t max_user, uint64_t count) {
    std::string column_key;
    StatusOr<std::string> key = ReadSmallFile(home_ / kPlexiChatKeysDir / "db-column-2026-01.key");
    if (key.ok()) column_key = *key;
    for (uint64_t u = 0; u < count; ++u) {
      const int64_t id = max_user + 1 + static_cast<int64_t>(u);
      t_ += static_cast<int64_t>(rng.Between(kSecondMs, 20 * kMinuteMs));
      PXB_RETURN_IF_ERROR(InsertUser(st_, model_, rng, column_key, home_ / kPlexiChatMediaDir, id,
                                     t_, false, nullptr));
      for (uint64_t j = rng.Between(1, 2); j > 0 && !model_.server_ids.empty(); --j) {
        size_t s = rng.Below(model_.server_ids.size());
        PXB_RETURN_IF_ERROR(st_.insert_member.Bind(1, model_.server_ids[s])
                                .Bind(2, id)
                                .Bind(3, "member")
                                .Bind(4, IsoTime(t_ + kMinuteMs))
                                .Run());
        if (db_.Changes() == 1) model_.server_members[s].push_back(id);
      }
      if (!user_ids_.empty() && rng.PerMille(600)) {
        const int64_t other = rng.Pick(user_ids_);
        const int64_t conversation = ++max_conversation_;
        PXB_RETURN_IF_ERROR(st_.insert_conversation.Bind(1, conversation)
                                .Bind(2, "direct")
                                .BindNull(3)
                                .BindNull(4)
                                .Bind(5, IsoTime(t_ + 2 * kMinuteMs))
                                .Run());
        for (int64_t member : {id, other}) {
          PXB_RETURN_IF_ERROR(st_.insert_conversation_member.Bind(1, conversation)
                                  .Bind(2, member)
                                  .Bind(3, IsoTime(t_ + 2 * kMinuteMs))
                                  .Run());
        }
        Conversation c;
        c.id = conversation;
        c.members = {id, other};
        model_.AppendConversation(std::move(c));
      }
      user_ids_.push_back(id);
      PXB_RETURN_IF_ERROR(tx.Tick(5));
    }
    return Status::Ok();
  }

  // Edits one message that existed before this run and was neither edited nor
  // deleted; mostly recent ones. `candidates` is how many such messages remain.
  Status EditOne(Rng& rng, uint64_t candidates) {
    const uint64_t max = static_cast<uint64_t>(max_message_);
    for (int attempt = 0; attempt < 64; ++attempt) {
      uint64_t id =
          rng.PerMille(700) ? max - rng.Below(std::max<uint64_t>(1, max / 10)) : 1 + rng.Below(max);
      PXB_RETURN_IF_ERROR(Edit(rng, static_cast<int64_t>(id)));
      if (db_.Changes() == 1) return Status::Ok();
    }
    // Nearly everything is edited already: take the n-th candidate.
    nth_editable_.Bind(1, max_message_).Bind(2, rng.Below(candidates));
    PXB_ASSIGN_OR_RETURN(bool row, nth_editable_.Next());
    if (!row) return InternalError("no editable message left in " + db_.path());
    int64_t id = nth_editable_.Int(0);
    nth_editable_.Reset();
    PXB_RETURN_IF_ERROR(Edit(rng, id));
    if (db_.Changes() != 1)
      return InternalError("editing message " + std::to_string(id) + " failed");
    return Status::Ok();
  }

  Status Edit(Rng& rng, int64_t id) {
    if (rng.PerMille(500)) {
      return edit_replace_.Bind(1, id)
          .Bind(2, text_.Message(rng))
          .Bind(3, IsoTime(t_))
          .Bind(4, max_message_)
          .Run();
    }
    return edit_append_.Bind(1, id)
        .Bind(2, text_.EditNote(rng))
        .Bind(3, IsoTime(t_))
        .Bind(4, max_message_)
        .Run();
  }

  fs::path home_;
  Db& db_;
  ChatModel model_;
  ChatText text_;
  Statements st_;
  Stmt recent_, edit_replace_, edit_append_, nth_editable_;
  std::vector<int64_t> user_ids_;
  int64_t max_message_ = 0;
  int64_t editable_ = 0;
  int64_t max_conversation_ = 0;
  int64_t t_ = 0;
};

constexpr std::string_view kPresetNames[] = {"tiny", "small", "medium", "large"};

}  // namespace

std::string PlexiChatHomeSpecString(const PlexiChatHomeSpec& spec) {
  return "seed=" + std::to_string(spec.seed) + " users=" + std::to_string(spec.users) +
         " servers=" + std::to_string(spec.servers) +
         " channels_per_server=" + std::to_string(spec.channels_per_server) +
         " conversations=" + std::to_string(spec.conversations) +
         " messages=" + std::to_string(spec.messages) +
         " media_files=" + std::to_string(spec.media_files) +
         " media_bytes=" + std::to_string(spec.media_bytes);
}

std::span<const std::string_view> PlexiChatHomePresets() { return kPresetNames; }

StatusOr<PlexiChatHomeSpec> PlexiChatHomeSpecForSize(std::string_view preset) {
  PlexiChatHomeSpec spec;
  if (preset == "tiny") {
    spec.users = 40;
    spec.servers = 2;
    spec.channels_per_server = 5;
    spec.conversations = 30;
    spec.messages = 3000;
    spec.media_files = 24;
    spec.media_bytes = 1 << 20;
  } else if (preset == "small") {
    // The defaults.
  } else if (preset == "medium") {
    spec.users = 5000;
    spec.servers = 40;
    spec.channels_per_server = 12;
    spec.conversations = 8000;
    spec.messages = 600'000;
    spec.media_files = 3000;
    spec.media_bytes = uint64_t{380} << 20;
  } else if (preset == "large") {
    spec.users = 50'000;
    spec.servers = 200;
    spec.channels_per_server = 15;
    spec.conversations = 60'000;
    spec.messages = 6'000'000;
    spec.media_files = 20'000;
    spec.media_bytes = uint64_t{3800} << 20;
  } else {
    std::string names;
    for (std::string_view name : kPresetNames)
      names += (names.empty() ? "" : ", ") + std::string(name);
    return InvalidArgumentError("unknown PlexiChat home size '" + std::string(preset) +
                                "': use one of " + names);
  }
  return spec;
}

Status GeneratePlexiChatHome(const std::filesystem::path& home, const PlexiChatHomeSpec& spec) {
  PXB_ASSIGN_OR_RETURN(Counts counts, CheckSpec(spec));
  const fs::path db_path = home / kPlexiChatDatabasePath;
  std::error_code ec;
  const bool exists = fs::exists(db_path, ec);
  if (ec) return ErrnoError(ec.value(), "stat " + db_path.string());
  if (!exists) {
    HomeGenerator generator(home, spec, counts);
    return generator.Run().WithContext("generating PlexiChat home " + home.string());
  }
  PXB_ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::Open(db_path, SQLITE_OPEN_READONLY));
  PXB_ASSIGN_OR_RETURN(std::optional<std::string> existing, ReadGeneratorSpec(*db));
  const std::string wanted = PlexiChatHomeSpecString(spec);
  if (!existing) {
    return FailedPreconditionError(db_path.string() +
                                   " was not written by the sample generator; choose another "
                                   "home or remove it");
  }
  if (*existing != wanted) {
    return FailedPreconditionError(db_path.string() + " was generated from {" + *existing +
                                   "}, not {" + wanted + "}; remove the home to generate it again");
  }
  return TopUp(home, spec, *db).WithContext("topping up PlexiChat home " + home.string());
}

Status SimulatePlexiChatActivity(const std::filesystem::path& home, uint64_t seed,
                                 uint64_t new_messages, uint64_t edits) {
  const fs::path db_path = home / kPlexiChatDatabasePath;
  std::error_code ec;
  const bool exists = fs::exists(db_path, ec);
  if (ec) return ErrnoError(ec.value(), "stat " + db_path.string());
  if (!exists) return NotFoundError("no PlexiChat database at " + db_path.string());
  PXB_ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::Open(db_path, SQLITE_OPEN_READWRITE));
  ActivitySimulator simulator(home, *db);
  return simulator.Run(seed, new_messages, edits)
      .WithContext("simulating activity in PlexiChat home " + home.string());
}

}  // namespace pxb
