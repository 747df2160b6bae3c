"""A mailing system's first day, told through a client generated from /openapi.json.

Run by .ci/outside-test against a live server:
    client-story.py BASE_URL API_KEY CLIENT_DIR
CLIENT_DIR holds the package `prefcenter_client` that openapi-python-client generated;
nothing in it is edited by hand. Every call goes through the generated functions and
models, so a document that stops describing the server breaks this story.
"""

import sys

base_url, api_key, client_dir = sys.argv[1:4]
sys.path.insert(0, client_dir)

from prefcenter_client import AuthenticatedClient  # noqa: E402
from prefcenter_client.api.contacts import put_contact  # noqa: E402
from prefcenter_client.api.decisions import check_batch, check_send  # noqa: E402
from prefcenter_client.api.suppressions import list_changes, list_suppressions, put_suppression  # noqa: E402
from prefcenter_client.api.topics import create_topic  # noqa: E402
from prefcenter_client.models import (  # noqa: E402
    BatchRequest,
    Category,
    ChangePage,
    CheckRequest,
    CheckResult,
    ContactView,
    ContactWrite,
    NewTopic,
    Problem,
    Reason,
    SuppressionPage,
    SuppressionView,
    SuppressionWrite,
    TopicView,
)

client = AuthenticatedClient(base_url=base_url, token=api_key, raise_on_unexpected_status=True)


def expect(kind, reply):
    """The parsed answer, which must be of the documented kind."""
    if not isinstance(reply.parsed, kind):
        sys.exit(f"expected {kind.__name__}, got HTTP {reply.status_code}: {reply.content[:300]!r}")
    return reply.parsed


# An opt-out promotional topic.
topic = expect(
    TopicView,
    create_topic.sync_detailed(
        client=client,
        body=NewTopic(key="story-news", name="News", category=Category.PROMOTIONAL, default_subscribed=True),
    ),
)
assert topic.key == "story-news" and topic.default_subscribed, topic

# A contact who unsubscribed from it through a link.
contact = expect(
    ContactView,
    put_contact.sync_detailed(
        "Alice@Example.com",
        client=client,
        body=ContactWrite.from_dict({"subscriptions": {"story-news": "unsubscribed"}, "source": "one_click"}),
    ),
)
assert contact.email == "alice@example.com", contact

# The decisions: Alice is out, Bob (never seen) gets the opt-out topic, with headers.
alice = expect(CheckResult, check_send.sync_detailed(client=client, body=CheckRequest(email="alice@example.com", topic="story-news")))
assert not alice.allowed and alice.reason.value == "unsubscribed_topic", alice
bob = expect(CheckResult, check_send.sync_detailed(client=client, body=CheckRequest(email="bob@example.com", topic="story-news")))
assert bob.allowed and bob.headers.list_unsubscribe.startswith("<http"), bob

batch = check_batch.sync_detailed(
    client=client,
    body=BatchRequest(topic="story-news", emails=["alice@example.com", "bob@example.com", "not-an-address"]),
)
results = batch.parsed.results
assert batch.status_code == 200 and len(results) == 3, batch.content
assert (results[0].allowed, results[1].allowed) == (False, True), results
assert results[2].error == "invalid_email" and results[2].input_ == "not-an-address", results[2]

# Five hard bounces, read back two at a time with the cursor.
for n in range(5):
    expect(
        SuppressionView,
        put_suppression.sync_detailed(f"bounced{n}@example.com", client=client, body=SuppressionWrite(reason=Reason.HARD_BOUNCE)),
    )
seen, after = [], None
while True:
    kwargs = {"after": after} if after else {}
    page = expect(SuppressionPage, list_suppressions.sync_detailed(client=client, reason=Reason.HARD_BOUNCE, limit=2, **kwargs))
    assert len(page.items) <= 2, page
    seen += [item.email for item in page.items]
    if not page.next_:
        break
    after = page.next_
assert sorted(seen) == [f"bounced{n}@example.com" for n in range(5)], seen

# The change feed, a page at a time, holds every change above in sequence.
events, after = [], 0
while True:
    page = expect(ChangePage, list_changes.sync_detailed(client=client, after=after, limit=3))
    events += page.events
    if not page.events:
        break
    after = page.next_
seqs = [e.seq for e in events]
assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
kinds = [e.type_ for e in events]
assert kinds.count("suppression_added") == 5 and "subscription_changed" in kinds, kinds

# A wrong key is a documented 401 problem, not an exception.
anonymous = AuthenticatedClient(base_url=base_url, token="pc_wrong", raise_on_unexpected_status=True)
problem = expect(Problem, check_send.sync_detailed(client=anonymous, body=CheckRequest(email="a@example.com", topic="story-news")))
assert problem.status == 401 and problem.type_.value == "/problems/unauthorized", problem

print(f"client story: passed ({len(events)} events read, {len(seen)} suppressions paged)")
