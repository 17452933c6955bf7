import re
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.config.file import ConfigError, find_config_path
from crawler.config.load import load_config
from crawler.config.models import Config, Politeness, Source

SHIPPED_CONFIG = Path(__file__).resolve().parents[3] / "config.yaml"

CONTRACT_EXAMPLE = """\
database: sqlite:///data/newsmon.db        # NEWSMON_DATABASE_URL overrides it
user_agent: "newsmon/0.1 (+contact URL)"
sources:
  - name: tribune                          # unique; [a-z0-9_-]
    feed: https://tribune.com.pk/feed/home # RSS 0.9x/1.0/2.0, Atom or JSON Feed
  - name: state-dept
    sitemap: https://www.state.gov/sitemap_index.xml
  - name: mofa
    listing: https://mofa.gov.pk/press-releases/
    follow: "/press-releases/"
    pages: 3
politeness:
  delay: 1s
  concurrency_per_host: 2
  autothrottle: true
  obey_robots: true
keywords:
  - Pakistan-US
  - name: us-pakistan
    terms: ["Pakistan-US", "US-Pakistan", "Pak-US"]
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSMON_DATABASE_URL", raising=False)
    monkeypatch.delenv("NEWSMON_CONFIG", raising=False)


def write(directory: Path, text: str, name: str = "config.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(directory: Path, text: str) -> Config:
    return load_config(write(directory, text))


def config_error(directory: Path, text: str) -> tuple[Path, str]:
    path = write(directory, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return path, str(caught.value)


def test_contract_example_loads(tmp_path: Path) -> None:
    config = load(tmp_path, CONTRACT_EXAMPLE)

    assert [(s.name, s.mode, s.url) for s in config.sources] == [
        ("tribune", "feed", "https://tribune.com.pk/feed/home"),
        ("state-dept", "sitemap", "https://www.state.gov/sitemap_index.xml"),
        ("mofa", "listing", "https://mofa.gov.pk/press-releases/"),
    ]
    mofa = config.source("mofa")
    assert (mofa.follow, mofa.pages) == ("/press-releases/", 3)
    assert config.user_agent == "newsmon/0.1 (+contact URL)"
    assert config.politeness == Politeness(
        delay=1.0, concurrency_per_host=2, autothrottle=True, obey_robots=True
    )
    assert [(k.name, k.terms) for k in config.keywords] == [
        ("Pakistan-US", ["Pakistan-US"]),
        ("us-pakistan", ["Pakistan-US", "US-Pakistan", "Pak-US"]),
    ]


def test_shorthand_keyword_becomes_a_rule_named_after_its_term(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        sources: [{name: a, feed: "http://a.test/feed"}]
        keywords: [Pakistan-US]
        """,
    )
    (rule,) = config.keywords
    assert (rule.name, rule.terms, rule.regex) == ("Pakistan-US", ["Pakistan-US"], [])


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1.0), ("500ms", 0.5), ("2h", 7200.0), ("10m", 600.0), ("1.5d", 129600.0), ("3", 3.0)],
)
def test_durations(tmp_path: Path, text: str, seconds: float) -> None:
    config = load(
        tmp_path, f"sources: [{{name: a, feed: 'http://a.test/'}}]\npoliteness: {{delay: {text}}}"
    )
    assert config.politeness.delay == seconds


@pytest.mark.parametrize(
    ("text", "size"), [("10MB", 10_000_000), ("512KiB", 524_288), ("2kb", 2000), ("4096", 4096)]
)
def test_sizes(tmp_path: Path, text: str, size: int) -> None:
    config = load(
        tmp_path,
        f"sources: [{{name: a, feed: 'http://a.test/'}}]\npoliteness: {{max_page_bytes: {text}}}",
    )
    assert config.politeness.max_page_bytes == size


def test_source_politeness_overrides_only_the_fields_it_names(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        politeness: {delay: 2s, concurrency_per_host: 4, timeout: 20s}
        sources:
          - name: slow
            listing: https://slow.test/news/
            politeness: {delay: 5s, obey_robots: false}
          - name: plain
            feed: https://plain.test/feed
        """,
    )
    slow = config.politeness_for(config.source("slow"))
    assert (slow.delay, slow.obey_robots) == (5.0, False)
    assert (slow.concurrency_per_host, slow.timeout, slow.retries) == (4, 20.0, 2)
    assert config.politeness_for(config.source("plain")) == config.politeness


def test_archiving_is_off_by_default_and_a_source_may_differ(tmp_path: Path) -> None:
    sources = """
        sources:
          - name: kept
            feed: https://kept.test/feed
            archive: true
          - name: plain
            feed: https://plain.test/feed
          - name: never
            feed: https://never.test/feed
            archive: false
        """
    config = load(tmp_path, sources)
    assert [config.archives(s) for s in config.sources] == [True, False, False]
    config = load(tmp_path, "archive: true\n" + textwrap.dedent(sources))
    assert [config.archives(s) for s in config.sources] == [True, True, False]


BAD_CASES = {
    "unknown key": (
        """\
        sources:
          - name: a
            fead: http://a.test/feed
        """,
        3,
        "sources[0].fead: unknown key 'fead'; did you mean 'feed'?",
    ),
    "unknown top-level key": (
        """\
        sources: [{name: a, feed: "http://a.test/"}]
        politness: {delay: 1s}
        """,
        2,
        "politness: unknown key 'politness'",
    ),
    "missing url": (
        """\
        sources:
          - name: a
            feed: http://a.test/feed
          - name: b
        """,
        4,
        "sources[1]: source 'b' needs exactly one of feed, sitemap or listing (found: none)",
    ),
    "missing name": (
        """\
        sources:
          - feed: http://a.test/feed
        """,
        2,
        "sources[0].name: missing required key 'name'",
    ),
    "missing sources": ("keywords: [x]\n", 1, "sources: missing required key 'sources'"),
    "two discovery modes": (
        """\
        sources:

          - name: a
            feed: http://a.test/feed
            sitemap: http://a.test/sitemap.xml
        """,
        3,
        "sources[0]: source 'a' needs exactly one of feed, sitemap or listing "
        "(found: feed, sitemap)",
    ),
    "duplicate source name": (
        """\
        sources:
          - name: a
            feed: http://a.test/feed
          - feed: http://b.test/feed
            name: a
        """,
        5,
        "sources[1].name: duplicate source name 'a' (first defined at line 2)",
    ),
    "bad follow regex": (
        """\
        sources:
          - name: a
            listing: http://a.test/news/
            follow: "/news/(["
        """,
        4,
        "sources[0].follow: follow is not a valid regular expression",
    ),
    "bad duration": (
        """\
        sources: [{name: a, feed: "http://a.test/"}]
        politeness:
          concurrency_per_host: 2
          delay: 3 fortnights
        """,
        4,
        "politeness.delay: '3 fortnights' is not a duration",
    ),
    "bad source name": (
        """\
        sources:
          - name: Tribune
            feed: http://a.test/
        """,
        2,
        "sources[0].name: 'Tribune': use only lowercase letters, digits, '-' and '_'",
    ),
    "bad url": (
        """\
        sources:
          - name: a
            feed: ftp://a.test/
        """,
        3,
        "sources[0].feed: 'ftp://a.test/': must be an http:// or https:// URL",
    ),
    "yaml syntax error": (
        """\
        sources:
          - name: a
            feed: http://a.test/
           bad: [
        """,
        4,
        "YAML syntax error",
    ),
    "duplicate mapping key": (
        """\
        sources:
          - name: a
            feed: http://a.test/one
            feed: http://a.test/two
        """,
        4,
        "sources[0].feed: duplicate key 'feed' (first given at line 3)",
    ),
    "unset env var": (
        """\
        sources:
          - name: a
            feed: ${NEWSMON_TEST_UNSET_VARIABLE}/feed
        """,
        3,
        "sources[0].feed: environment variable NEWSMON_TEST_UNSET_VARIABLE is not set",
    ),
    "duplicate keyword name": (
        """\
        sources: [{name: a, feed: "http://a.test/"}]
        keywords:
          - Pakistan-US
          - name: Pakistan-US
            terms: [Pak-US]
        """,
        4,
        "keywords[1].name: duplicate keyword name 'Pakistan-US' (first defined at line 3)",
    ),
    "keyword names unknown source": (
        """\
        sources: [{name: dawn, feed: "http://a.test/"}]
        keywords:
          - name: k
            terms: [x]
            sources:
              - dawn
              - tribune
        """,
        7,
        "keywords[0].sources[1]: unknown source 'tribune' (sources: dawn)",
    ),
    "bad keyword regex": (
        """\
        sources: [{name: a, feed: "http://a.test/"}]
        keywords:
          - name: k
            regex: ["Pak(istan"]
        """,
        4,
        "keywords[0].regex: regex 'Pak(istan' is not valid",
    ),
    "sitemap bounds on a feed": (
        """\
        sources:
          - name: a
            feed: http://a.test/feed
            max_sitemaps: 5
            sitemap_hosts: [cdn.a.test]
        """,
        2,
        "sources[0]: max_sitemaps, sitemap_hosts only apply to a sitemap source",
    ),
    "archive not a boolean": (
        """\
        sources:
          - name: a
            feed: http://a.test/feed
            archive: sometimes
        """,
        4,
        "sources[0].archive:",
    ),
    "bad extract body selector": (
        """\
        sources:
          - name: a
            feed: http://a.test/feed
            extract:
              title: h1.title
              body: "div.entry-content["
        """,
        6,
        "sources[0].extract.body: CSS selector 'div.entry-content[' is not valid",
    ),
    "bad extract remove selector": (
        """\
        sources:
          - name: a
            feed: http://a.test/feed
            extract:
              remove:
                - div.ok
                - "figure >> figcaption"
        """,
        7,
        "sources[0].extract.remove[1]: CSS selector 'figure >> figcaption' is not valid",
    ),
    "bad extract date": (
        """\
        sources:
          - name: a
            feed: http://a.test/feed
            extract: {date: "time.entry-date@"}
        """,
        4,
        "sources[0].extract.date: '' after '@' is not an attribute name",
    ),
    "top level is a list": ("- sources\n", 1, "the top level must be a mapping"),
    "malformed env reference": (
        """\
        sources: [{name: a, feed: "http://a.test/"}]
        user_agent: "newsmon ${oops"
        """,
        2,
        "user_agent: '${' must start a ${VAR} or ${VAR:-default} reference",
    ),
}


@pytest.mark.parametrize(("text", "line", "expected"), BAD_CASES.values(), ids=BAD_CASES.keys())
def test_bad_config_names_the_key_and_line(
    tmp_path: Path, text: str, line: int, expected: str
) -> None:
    path, message = config_error(tmp_path, text)
    assert f"{path}:{line}: {expected}" in message


def test_every_error_is_reported_in_line_order(tmp_path: Path) -> None:
    path, message = config_error(
        tmp_path,
        """\
        colour: blue
        politeness: {delay: soon}
        sources:
          - name: a
            feed: http://a.test/
            pages: many
          - feed: http://b.test/
        """,
    )
    assert message.splitlines() == [
        f"{path}:1: colour: unknown key 'colour' "
        # Every top-level key, as the model lists them (other features add theirs).
        f"(allowed: {', '.join(Config.model_fields)})",
        f"{path}:2: politeness.delay: 'soon' is not a duration; "
        "use a number with a unit: 30s, 10m, 2h, 3d",
        f"{path}:6: sources[0].pages: Input should be a valid integer, "
        "unable to parse string as an integer",
        f"{path}:7: sources[1].name: missing required key 'name'",
    ]


def test_env_variables_expand_in_string_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSMON_TEST_HOST", "https://feeds.test")
    monkeypatch.setenv("NEWSMON_TEST_EMPTY", "")
    monkeypatch.delenv("NEWSMON_TEST_UNSET", raising=False)
    config = load(
        tmp_path,
        """
        user_agent: "bot ${NEWSMON_TEST_UNSET:-anonymous} ${NEWSMON_TEST_EMPTY:-fallback} $${HOME}"
        sources:
          - name: a
            feed: ${NEWSMON_TEST_HOST}/rss
        """,
    )
    assert config.source("a").feed == "https://feeds.test/rss"
    assert config.user_agent == "bot anonymous fallback ${HOME}"


def test_database_url_from_env_overrides_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSMON_DATABASE_URL", "postgresql+psycopg://newsmon@127.0.0.1/newsmon")
    config = load(tmp_path, CONTRACT_EXAMPLE)
    assert config.database == "postgresql+psycopg://newsmon@127.0.0.1/newsmon"


@pytest.mark.parametrize(
    ("database", "expected"),
    [
        ("sqlite:///data/newsmon.db", "sqlite:///{dir}/data/newsmon.db"),
        ("sqlite:///../up.db?timeout=5", "sqlite:///{parent}/up.db?timeout=5"),
        ("sqlite+pysqlite:///n.db", "sqlite+pysqlite:///{dir}/n.db"),
        ("sqlite:////var/lib/newsmon.db", "sqlite:////var/lib/newsmon.db"),
        ("sqlite://", "sqlite://"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("postgresql://u@127.0.0.1/db", "postgresql://u@127.0.0.1/db"),
    ],
)
def test_relative_sqlite_path_is_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: str, expected: str
) -> None:
    config_dir = tmp_path / "etc"
    config_dir.mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    path = write(
        config_dir, f"database: '{database}'\nsources: [{{name: a, feed: 'http://a.test/'}}]"
    )

    config = load_config(Path("..") / "etc" / path.name)

    assert config.database == expected.format(dir=config_dir, parent=tmp_path)


def test_anchors_and_merge_keys_work_without_false_duplicates(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        sources:
          - name: a
            feed: http://a.test/
            politeness: &gentle {delay: 5s, timeout: 60s}
          - name: b
            feed: http://b.test/
            politeness: {<<: *gentle, delay: 7s}
          - name: c
            feed: http://c.test/
            politeness: *gentle
        """,
    )
    b = config.politeness_for(config.source("b"))
    assert (b.delay, b.timeout) == (7.0, 60.0)
    assert config.politeness_for(config.source("c")).delay == 5.0


def test_alias_bombs_and_recursive_aliases_fail_fast(tmp_path: Path) -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    started = time.perf_counter()
    _, message = config_error(tmp_path, "\n".join(levels))
    assert "runaway aliases" in message
    assert time.perf_counter() - started < 5

    _, message = config_error(tmp_path, "sources: &s [*s]\n")
    assert "sources[0]: an alias refers to the mapping or list that contains it" in message


@pytest.mark.parametrize(
    "text", ["", "just text", "a: !!python/object/apply:os.system [true]", "a: !!timestamp x"]
)
def test_odd_documents_are_config_errors(tmp_path: Path, text: str) -> None:
    path, message = config_error(tmp_path, text)
    assert message.startswith(f"{path}:1: ")
    assert "\n" not in message


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "latin1.yaml").write_bytes(b"user_agent: caf\xe9\n")
    with pytest.raises(ConfigError, match="latin1.yaml: cannot read"):
        load_config(tmp_path / "latin1.yaml")


def test_config_error_joins_its_lines() -> None:
    error = ConfigError(["a.yaml:1: x: one", "a.yaml:2: y: two"])
    assert error.errors == ["a.yaml:1: x: one", "a.yaml:2: y: two"]
    assert str(error) == "a.yaml:1: x: one\na.yaml:2: y: two"
    assert ConfigError("single").errors == ["single"]


def test_find_config_path_prefers_cli_then_env_then_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cli = write(tmp_path, "x", "cli.yaml")
    env = write(tmp_path, "x", "env.yaml")
    write(tmp_path, "x", "config.yaml")

    monkeypatch.setenv("NEWSMON_CONFIG", str(env))
    assert find_config_path(str(cli)) == cli
    assert find_config_path(None) == env
    monkeypatch.delenv("NEWSMON_CONFIG")
    assert find_config_path(None) == Path("config.yaml")


@pytest.mark.parametrize(
    ("cli", "env", "reported"),
    [
        ("nope.yaml", None, "nope.yaml"),
        (None, "gone.yaml", "gone.yaml"),
        (None, None, "config.yaml"),
    ],
)
def test_find_config_path_reports_the_missing_choice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: str | None, env: str | None, reported: str
) -> None:
    monkeypatch.chdir(tmp_path)
    if env:
        monkeypatch.setenv("NEWSMON_CONFIG", env)
    with pytest.raises(ConfigError) as caught:
        find_config_path(cli)
    assert re.fullmatch(rf"{re.escape(reported)}: config file not found \(.+\)", str(caught.value))


def test_shipped_config_loads() -> None:
    config = load_config(SHIPPED_CONFIG)

    names = [source.name for source in config.sources]
    assert {"mofa", "state-dept", "tribune", "dawn"} <= set(names)
    assert config.database == f"sqlite:///{SHIPPED_CONFIG.parent}/data/newsmon.db"
    assert all(source.max_articles <= 50 for source in config.sources)
    mofa = config.source("mofa")
    assert (mofa.listing, mofa.pages) == ("https://mofa.gov.pk/press-releases/", 2)
    follow = re.compile(mofa.follow or "")
    assert follow.search("https://mofa.gov.pk/press-releases/pakistan-us-joint-statement")
    assert not follow.search("https://mofa.gov.pk/press-releases/")
    rules = {rule.name: rule.terms for rule in config.keywords}
    assert rules["Pakistan-US"] == ["Pakistan-US"]
    assert rules["us-pakistan"] == [
        "Pakistan-US",
        "US-Pakistan",
        "Pak-US",
        "Pakistan and the United States",
    ]


# --- Property: whatever the file holds, the only failure is ConfigError -----------------------

YAML_TOKENS = st.sampled_from(
    ["\n", " ", "  ", "- ", ": ", "[", "]", "{", "}", ",", "&a ", "*a", "<<: ", "!!str ", "!!int ",
     "'", '"', "#", "? ", "|", ">", "---", "${X}", "${NEWSMON_TEST_UNSET}", "$${", "\t", "%YAML",
     "sources", "name", "feed", "keywords", "politeness", "delay", "1s", "http://a.test/", "a"]
)  # fmt: skip
FIELD_NAMES = sorted(
    {*Config.model_fields, *Source.model_fields, *Politeness.model_fields, "terms", "regex", "near"}
)
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["1s", "10MB", "http://a.test/", "a", "(", "${X:-1}", "-1s", "9" * 400])
)
YAMLISH = st.recursive(
    LEAVES,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "config.yaml"


def assert_loads_or_config_error(path: Path) -> None:
    try:
        load_config(path)
    except ConfigError as error:
        assert error.errors
        assert all(line.startswith(str(path)) for line in error.errors)


@settings(max_examples=300, deadline=None)
@given(text=st.text() | st.lists(YAML_TOKENS).map("".join))
def test_any_text_fails_only_with_config_error(scratch: Path, text: str) -> None:
    scratch.write_text(text, encoding="utf-8")
    assert_loads_or_config_error(scratch)


@settings(max_examples=300, deadline=None)
@given(data=YAMLISH | st.dictionaries(st.sampled_from(FIELD_NAMES), YAMLISH, max_size=5))
def test_any_yaml_data_fails_only_with_config_error(scratch: Path, data: object) -> None:
    scratch.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert_loads_or_config_error(scratch)


def test_a_rule_that_could_never_match_is_a_config_error_naming_the_rule(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(
        "sources:\n"
        "  - name: a\n"
        "    feed: https://example.com/feed\n"
        "keywords:\n"
        "  - name: vetoed\n"
        '    terms: ["Pakistan-US"]\n'
        '    none: ["pakistan"]\n'
    )
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "config.yaml:5:" in str(error.value)
    assert "vetoed" in str(error.value)
