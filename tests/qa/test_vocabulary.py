import pytest

from qa.vocabulary import SynonymGroup, VocabularyError, interpret, load_vocabulary


def test_default_vocabulary_loads_the_domain_groups():
    concepts = {g.concept for g in load_vocabulary()}
    assert {"elected and co-opted councillors", "council staff", "head of paid service",
            "finance officer", "party group", "executive", "chair"} <= concepts


@pytest.mark.parametrize("question, phrase, also", [
    ("Can a councillor tell me to change my report?", "councillor", "member"),
    ("Do employees have to attend?", "employees", "officer"),
    ("What does the political group leader do?", "political group", "party group"),
    ("Who is the S151 Officer?", "s151 officer", "chief financial officer"),
    ("Can the Cabinet instruct staff?", "cabinet", "executive"),
    ("What does the Town Clerk do?", "town clerk", "chief executive"),
])
def test_names_match_across_councils(question, phrase, also):
    interpretation = interpret(question)
    assert phrase in [p for p, _ in interpretation.matched]
    assert also in interpretation.expansions
    assert any(note.startswith(f"{phrase} ~") for note in interpretation.notes)


def test_longer_phrase_wins_over_its_words():
    interpretation = interpret("Who is the Monitoring Officer?")
    assert [p for p, _ in interpretation.matched] == ["monitoring officer"]
    assert "employee" not in interpretation.expansions


def test_no_vocabulary_no_interpretation():
    assert interpret("What time is it?").notes == []


def test_bad_vocabulary_file_names_the_group(tmp_path):
    path = tmp_path / "vocabulary.toml"
    path.write_text('[[group]]\nconcept = "x"\nnames = "not a list"\n')
    with pytest.raises(VocabularyError, match="group 1 needs a 'names' list"):
        load_vocabulary(path)


def test_custom_groups():
    groups = (SynonymGroup("parish clerk", ("clerk", "secretary", "proper officer")),)
    assert interpret("Ask the clerk", groups).expansions == ["secretary"]
    assert interpret("Ask the proper officer", groups).expansions == ["clerk", "secretary"]


def test_named_authorities():
    from qa.vocabulary import named_authorities
    authorities = ["Carlisle City Council", "Local Government Association", "Newton Abbot Town Council"]
    assert named_authorities("Who is the Monitoring Officer at Carlisle?", authorities) == ["Carlisle City Council"]
    assert named_authorities("What does the LGA code say?", authorities) == ["Local Government Association"]
    assert named_authorities("Is Newton on the list?", authorities) == []


@pytest.mark.parametrize("question, authority, read", [
    ("Who is the Monitoring Officer at Carlisle?", "Carlisle City Council", "Who is the Monitoring Officer?"),
    ("Who is the monitoring officer at Carlisle City Council?", "Carlisle City Council", "Who is the monitoring officer?"),
    ("In Carlisle, may a councillor see my draft?", "Carlisle City Council", "may a councillor see my draft?"),
    ("Does Watford's protocol cover social media?", "Watford Borough Council", "Does protocol cover social media?"),
    ("What does the Newton Abbot Town Council code say on gifts?", "Newton Abbot Town Council",
     "What does the code say on gifts?"),
    ("Under the LGA model code, must I register a gift?", "Local Government Association",
     "Under the model code, must I register a gift?"),
    # a preposition stays when the name does not end its phrase; words merely containing the name stay
    ("Is the Watford rule on gifts stricter?", "Watford Borough Council", "Is the rule on gifts stricter?"),
    ("Are Carlisleans covered?", "Carlisle City Council", "Are Carlisleans covered?"),
    ("Carlisle", "Carlisle City Council", ""),
])
def test_a_named_council_is_read_out_of_the_question(question, authority, read):
    from qa.vocabulary import without_council_mention
    assert without_council_mention(question, [authority]) == read


def test_corpus_names_pick_the_name_the_documents_use_most():
    from index.lexical import tokenize
    from qa.vocabulary import corpus_names

    groups = (SynonymGroup("councillors", ("councillor", "councillors", "member", "members", "elected member")),
              SynonymGroup("staff", ("officer", "employee", "staff")))
    df = {"councillor": 3, "member": 40, "elect": 2, "offic": 10, "employe": 10, "staff": 1}
    names = corpus_names(groups, lambda token: df.get(token, 0), tokenize)
    # "elected member" is as common as its rarer word; on a tie the shorter name wins
    assert names == {"councillors": "member", "staff": "officer"}


@pytest.mark.parametrize("question, rewritten", [
    ("Can a councillor tell me to change my report?", "Can a member tell me to change my report?"),
    ("Are opposition councillors entitled to information?", "Are opposition members entitled to information?"),
    ("Can Councillors and employees meet?", "Can members and officers meet?"),
    ("Can a member of staff talk to a councillor?", "Can an officer talk to a member?"),
    ("An employee asked a councillor.", "An officer asked a member."),
    ("How long can a member of the public speak for?", "How long can the public speak for?"),
    ("Do members get training?", "Do members get training?"),
])
def test_a_question_in_the_documents_own_names(question, rewritten):
    from qa.vocabulary import in_corpus_words

    names = {"elected and co-opted councillors": "member", "council staff": "officer", "the public": "the public"}
    assert in_corpus_words(question, interpret(question), names) == rewritten


@pytest.mark.parametrize("question, concept", [
    ("Can a councillor tell me to change my report?", "instruction"),
    ("Can I tell the officer in charge to stop the works?", "instruction"),
    ("Who do I tell about a change of address?", "informing"),
    ("Who do I need to tell?", "informing"),  # "to" before "tell" is not the instruction's
])
def test_a_name_in_two_groups_takes_the_sense_its_context_meets(question, concept):
    assert [group.concept for phrase, group in interpret(question).matched if phrase == "tell"] == [concept]


def test_followed_by_must_name_a_name_of_its_group(tmp_path):
    path = tmp_path / "vocabulary.toml"
    path.write_text('[[group]]\nconcept = "x"\nnames = ["tell"]\nfollowed_by = { ask = "to" }\n')
    with pytest.raises(VocabularyError, match="group 1's 'followed_by' must map names of the group"):
        load_vocabulary(path)


@pytest.mark.parametrize("question, phrase, concept", [
    ("Should a councillor avoid becoming too friendly with staff?", "friendly", "familiarity"),
    ("Must officers be politically neutral?", "politically neutral", "impartiality"),
    ("What if a councillor is rude to an officer?", "rude", "respect and courtesy"),
    ("Can I cc another councillor?", "cc", "copying"),
    ("Can staff talk to a councillor about it?", "talk to", "discussing"),
    ("Do I need to tell anyone before I turn up at a depot?", "turn up", "visits"),
    ("What if I am unhappy with how an officer dealt with it?", "unhappy", "dissatisfaction"),
    # the code of conduct's topics
    ("A contractor left me a bottle of wine. Must I say so?", "wine", "kinds of gifts and hospitality"),
    ("Can I go to a lunch paid for by a developer?", "lunch", "kinds of gifts and hospitality"),
    ("Do I have to declare my husband's job?", "husband", "spouse or partner"),
    ("Do I have to declare my husband's job?", "declare", "declaring interests"),
    ("Must I list the shares I own?", "shares", "shares"),
    ("Could I be prosecuted for it?", "prosecuted", "criminal offence"),
    ("Does the code cover what I say on WhatsApp?", "whatsapp", "means of communication"),
    ("Could a tweet bring the council into disrepute?", "tweet", "social media"),
    ("Would that make me beholden to him?", "beholden", "obligation"),
    ("Is it a problem if a councillor leaks a report?", "leaks", "disclosing information"),
])
def test_plain_words_for_the_standard_topics(question, phrase, concept):
    assert (phrase, concept) in [(p, group.concept) for p, group in interpret(question).matched]


def test_a_spouse_is_read_as_the_codes_partner():
    from index.lexical import tokenize
    from qa.vocabulary import corpus_names, in_corpus_words

    groups = load_vocabulary()
    df = {"partner": 13, "spous": 5}
    names = corpus_names(groups, lambda token: df.get(token, 0), tokenize)
    assert names["spouse or partner"] == "partner"
    assert in_corpus_words("Does my husband have to register?", interpret("Does my husband have to register?"),
                           names) == "Does my partner have to register?"
    # "register" stays as it is: the register of interests is a noun too.
    assert "declaring interests" not in names


def test_social_media_is_not_the_press():
    # "media" names the press; "social media" is what councillors post online, and a
    # question about it must not be widened to journalists and newspapers.
    concepts = [group.concept for _, group in interpret("Can I post about it on social media?").matched]
    assert "social media" in concepts and "media" not in concepts
    assert "media" in [group.concept for _, group in interpret("Can I talk to the media?").matched]


def test_related_words_match_but_do_not_reword_the_question():
    from index.lexical import tokenize
    from qa.vocabulary import corpus_names, in_corpus_words

    groups = (SynonymGroup("courtesy", ("courtesy", "rude", "polite"), reword=False),
              SynonymGroup("staff", ("officer", "staff")))
    names = corpus_names(groups, lambda token: {"courtesi": 9, "polit": 5, "offic": 9}.get(token, 0), tokenize)
    assert names == {"staff": "officer"}
    question = "What if a councillor is rude to staff?"
    interpretation = interpret(question, groups)
    assert [group.concept for _, group in interpretation.matched] == ["courtesy", "staff"]
    # "rude" must not become "polite", its opposite; "staff" still becomes the documents' "officer"
    assert in_corpus_words(question, interpretation, names) == "What if a councillor is rude to officer?"


def test_reword_must_be_true_or_false(tmp_path):
    path = tmp_path / "vocabulary.toml"
    path.write_text('[[group]]\nconcept = "x"\nnames = ["rude", "polite"]\nreword = "no"\n')
    with pytest.raises(VocabularyError, match="group 1's 'reword' must be true or false"):
        load_vocabulary(path)


@pytest.mark.parametrize("question, role", [
    ("Can a councillor tell me to change my report?", "officer"),        # names one side: asked by the other
    ("Can I ask an officer to come to my ward surgery?", "member"),
    ("Can my line manager see the advice I give?", ""),                   # "line manager" is no role
    ("Can I use what I learn as a councillor to help my own business?", "member"),  # says its own role
    ("I'm an officer. Can a councillor ask me to do this?", "officer"),
    ("I'm an opposition councillor. Can I see the papers?", "member"),   # a word before the role
    ("I'm a resident and my neighbour is an officer. Can I ask?", ""),   # the role comes too late
    ("Can councillors and officers meet in private?", ""),               # no "I"
    ("Can I meet a councillor and an officer together?", ""),            # both sides named
    ("Can I use the council's printer for my campaign?", ""),            # neither
    ("As a resident, can I complain about a councillor?", ""),           # says it is neither side
    ("As their councillor I'd like to back the residents' bid. Can I ask an officer?", "member"),
    ("As the ward councillor, can I attend?", "member"),
    ("Can I share it with others, such as a councillor?", "officer"),    # describes someone else
    ("Can my councillor help me with a planning application?", ""),      # a resident's question
    ("Can I ask my local councillor to speak for me?", ""),
    ("From when does the councillors' code apply to me after I'm elected?", "member"),  # only members are elected
    ("Since I was re-elected, can officers still brief me?", "member"),
    ("Who was elected in my ward last May?", ""),                        # someone else was elected
])
def test_the_first_person_is_read_as_the_role_the_question_shows(question, role):
    from qa.vocabulary import asker_role

    assert asker_role(question, interpret(question)) == role


@pytest.mark.parametrize("question, rewritten", [
    ("Can a councillor tell me to change my report?", "Can a member tell an officer to change the officer's report?"),
    ("Can I ask an officer to come to my ward surgery?", "Can a member ask an officer to come to the member's ward surgery?"),
    ("I'm an officer. Can a councillor ask me?", "an officer. Can a member ask an officer?"),
    ("I'm a junior officer and a councillor rings me. Can I refuse?",
     "a junior officer and a member rings an officer. Can an officer refuse?"),
    ("Can I give instructions to staff myself?", "Can a member give instructions to officer themselves?"),
    ("As a councillor I'd like to visit a school.", "As a member a member would like to visit a school."),
    ("Can I use the council's printer for my campaign?", "Can I use the council's printer for my campaign?"),
])
def test_a_question_in_the_documents_own_names_and_roles(question, rewritten):
    from qa.vocabulary import in_corpus_words

    names = {"elected and co-opted councillors": "member", "council staff": "officer"}
    roles = {"member": "member", "officer": "officer"}
    assert in_corpus_words(question, interpret(question), names, roles) == rewritten


def test_without_a_name_for_the_asker_s_role_i_stays():
    from qa.vocabulary import in_corpus_words

    names = {"elected and co-opted councillors": "member", "council staff": "officer"}
    question = "Can a councillor tell me to change my report?"  # asked by an officer
    expected = "Can a member tell me to change my report?"
    assert in_corpus_words(question, interpret(question), names) == expected
    assert in_corpus_words(question, interpret(question), names, {"member": "member"}) == expected


def test_role_names_take_the_first_concept_of_each_role():
    from qa.vocabulary import role_names

    groups = load_vocabulary()
    names = {g.concept: g.names[0] for g in groups}
    assert role_names(groups, names) == {"member": "councillor", "officer": "officer"}


def test_role_must_be_member_or_officer(tmp_path):
    path = tmp_path / "vocabulary.toml"
    path.write_text('[[group]]\nconcept = "x"\nnames = ["clerk"]\nrole = "staff"\n')
    with pytest.raises(VocabularyError, match="group 1's 'role' must be one of member, officer"):
        load_vocabulary(path)
