"""same_councils: a principal council's name printed without its type is that council, when only one fits."""

from ingest.infer import same_councils


def test_untyped_name_maps_to_the_one_principal_council_of_that_place():
    names = ["Trafford Council", "Trafford Borough Council", "Kent Council", "Kent County Council",
             "Wirral Council", "Wirral Metropolitan Borough Council"]
    assert same_councils(names) == {"Trafford Council": "Trafford Borough Council",
                                    "Kent Council": "Kent County Council",
                                    "Wirral Council": "Wirral Metropolitan Borough Council"}


def test_ambiguous_or_local_councils_are_left_alone():
    # Two principal councils of one place: which is meant cannot be told.
    assert same_councils(["Newport Council", "Newport City Council", "Newport Borough Council"]) == {}
    # Parish, town and community councils always print their type.
    assert same_councils(["Wokingham Council", "Wokingham Town Council"]) == {}
    assert same_councils(["Caerwent Council", "Caerwent Community Council"]) == {}
    # Another place, a file of its own, or a typed name alone.
    assert same_councils(["Trafford Council", "Stretford Borough Council"]) == {}
    assert same_councils(["Council not identified: a.pdf", "Trafford Borough Council"]) == {}
    assert same_councils(["Trafford Borough Council"]) == {}


def test_case_does_not_split_a_place():
    assert same_councils(["TRAFFORD Council", "Trafford Borough Council"]) == {"TRAFFORD Council": "Trafford Borough Council"}
