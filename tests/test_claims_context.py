"""The tricky contexts, one by one: who offers what, who rules it out, who only mentions it."""

from __future__ import annotations

import pytest

from crawler.claims import extract


def claims(text: str, content_type: str = "text/plain") -> set[tuple[str, str, str]]:
    return {(c.kind, c.term, c.role) for c in extract(text, content_type=content_type).claims}


def roles(text: str, term: str, content_type: str = "text/plain") -> set[str]:
    return {role for _kind, t, role in claims(text, content_type) if t == term}


def test_symptom_mention_is_not_an_offer():
    text = ("Our clinic offers stem cell therapy for multiple sclerosis. "
            "Symptoms of the disease include fatigue, depression and numbness.")
    assert roles(text, "multiple_sclerosis") == {"offered"}
    assert roles(text, "depression_psychiatric") == {"mentioned"}


def test_background_and_conventional_care_are_mentions():
    text = ("Parkinson's disease is a progressive disorder of the nervous system.\n\n"
            "Conventional treatments for spinal cord injury focus on rehabilitation.\n\n"
            "Our regenerative clinic uses stem cells.")
    assert roles(text, "parkinsons_disease") == {"mentioned"}
    assert roles(text, "spinal_cord_injury") == {"mentioned"}


def test_we_treat_offers_and_we_do_not_treat_excludes():
    text = "We treat knee pain with stem cells. We do not treat cancer or Alzheimer's disease."
    assert roles(text, "knee_pain") == {"offered"}
    assert roles(text, "cancer") == {"excluded"}
    assert roles(text, "alzheimers_disease") == {"excluded"}


def test_exclusion_stays_in_its_clause():
    text = "Our stem cell program treats autism, but we do not treat cancer."
    assert roles(text, "autism_spectrum_disorder") == {"offered"}
    assert roles(text, "cancer") == {"excluded"}


@pytest.mark.parametrize("sentence", [
    "This treatment is not recommended for patients with lupus.",
    "Patients with lupus are ineligible.",
    "Stem cell injections are contraindicated in lupus.",
    "Our therapy is not suitable for people with lupus.",
])
def test_exclusion_wordings(sentence):
    assert roles(f"Our stem cell clinic. {sentence}", "lupus") == {"excluded"}


def test_excluded_list_under_heading():
    html = """<html><body><main><h1>Stem cell therapy at our clinic</h1>
    <h2>Conditions we treat</h2><ul><li>Knee arthritis</li><li>Tennis elbow</li></ul>
    <h2>Who is not a candidate</h2><ul><li>Active cancer</li><li>Kidney failure</li></ul></main></body></html>"""
    found = claims(html, "text/html")
    assert ("condition", "knee_pain", "offered") in found
    assert ("condition", "tendinopathy", "offered") in found
    assert ("condition", "cancer", "excluded") in found
    assert ("condition", "kidney_disease", "excluded") in found
    assert not any(role == "offered" for _, term, role in found if term in ("cancer", "kidney_disease"))


def test_negated_product_is_excluded():
    text = "We use umbilical cord tissue from healthy births. These are NOT fetal or embryonic stem cells."
    found = claims(text)
    assert ("cell_type", "umbilical_cord_tissue", "offered") in found
    assert ("cell_type", "embryonic", "excluded") in found
    assert ("cell_type", "fetal", "excluded") in found
    assert roles("Our clinic never uses embryonic stem cells.", "embryonic") == {"excluded"}


def test_negation_does_not_reach_past_with():
    text = "Our clinic offers stem cell infusions: no risk of rejection with umbilical cord cells."
    assert roles(text, "umbilical_cord") == {"offered"}


@pytest.mark.parametrize("hedge,term,flag", [
    ("This is not a cure for autism.", "not_a_cure", "cure_reverse_claim"),
    ("Our therapy cures many conditions, but results may vary.", "results_vary", None),
    ("Stem cell therapy is not FDA approved.", "not_fda_approved", "regulatory_legitimacy"),
    ("Individual results differ and our therapy is not guaranteed.", "results_vary", "proven_efficacy"),
])
def test_hedge_is_a_disclaimer_and_suppresses_its_red_flag(hedge, term, flag):
    found = claims(f"Our stem cell clinic. {hedge}")
    assert ("disclaimer", term, "offered") in found
    if flag:
        assert not any(k == "red_flag" and t == flag for k, t, _ in found)


def test_disclaimer_suppresses_the_matching_red_flag_only_in_its_sentence():
    text = "Stem cell therapy is not a cure. Our stem cell therapy cures arthritis."
    found = extract(text, content_type="text/plain").claims
    cures = [c for c in found if c.term == "cure_reverse_claim"]
    assert len(cures) == 1 and cures[0].evidence == "Our stem cell therapy cures arthritis."


def test_red_flag_in_a_question_is_not_a_claim():
    assert roles("Our stem cell clinic. Will this cure my arthritis?", "cure_reverse_claim") == set()


def test_ambiguous_abbreviation_needs_stem_cell_context():
    assert roles("Our stem cell clinic treats patients with MS.", "multiple_sclerosis") == {"offered"}
    assert roles("Download the form as an MS Word file.", "multiple_sclerosis") == set()
    assert roles("Dr. Lee, MD, MS, trained in Boston. She treats patients.", "multiple_sclerosis") == set()
    assert roles("He was a detective in the city PD for years.", "parkinsons_disease") == set()
    assert roles("Our stem cell program helps patients with PD.", "parkinsons_disease") == {"offered"}
    assert roles("Cancer at Stage IV is common.", "intravenous") == set()
    assert roles("Our stem cells are given by IV infusion.", "intravenous") == {"offered"}


def test_case_sensitive_abbreviation():
    assert roles("Our stem cell clinic treats ALS.", "als") == {"offered"}
    assert roles("Our stem cell clinic treats als and other things.", "als") == set()
    assert roles("Our stem cell clinic treats SCI patients.", "spinal_cord_injury") == {"offered"}
    assert roles("Our stem cell clinic has a sci-fi waiting room.", "spinal_cord_injury") == set()


def test_menu_entry_under_treatments_is_offered():
    html = """<html><body><nav class="menu"><ul><li><a href="/">Home</a></li>
    <li><span>Treatments</span><ul><li><a href="/a">Autism</a></li><li><a href="/c">Cerebral Palsy</a></li></ul></li>
    </ul></nav><main><p>Welcome to our regenerative medicine clinic.</p></main></body></html>"""
    found = claims(html, "text/html")
    assert ("condition", "autism_spectrum_disorder", "offered") in found
    assert ("condition", "cerebral_palsy", "offered") in found


def test_blog_menu_entry_is_a_mention():
    html = """<html><body><aside class="sidebar"><h3>Related posts</h3><ul><li><a href="/b">Stroke recovery at
    home</a></li></ul></aside><main><p>Our stem cell clinic.</p></main></body></html>"""
    assert roles(html, "stroke", "text/html") == {"mentioned"}


def test_heading_stem_cell_treatment_for_x():
    html = """<html><body><h1>Stem Cell Treatment for Spinal Cord Injury</h1>
    <p>Spinal cord injury damages the connection between brain and body.</p>
    <p>Call us today.</p></body></html>"""
    found = claims(html, "text/html")
    assert ("condition", "spinal_cord_injury", "offered") in found
    assert ("condition", "spinal_cord_injury", "mentioned") in found


def test_news_headline_with_treatment_words_is_not_an_offer():
    html = """<html><body><h1>Families paid thousands for unproven lupus infusions</h1>
    <p>Patients with lupus told reporters a clinic sold them stem cell infusions.</p></body></html>"""
    assert roles(html, "lupus", "text/html") == {"mentioned"}


def test_faq_question_answered_no_excludes():
    text = ("Knee FAQ\n\nDo you treat rheumatoid arthritis?\n\nNo. We only treat osteoarthritis with stem cells.\n\n"
            "Can you help with tendonitis?\n\nYes, our PRP injections often help.\n")
    found = claims(text)
    assert ("condition", "rheumatoid_arthritis", "excluded") in found
    assert ("condition", "osteoarthritis", "offered") in found
    assert ("condition", "tendinopathy", "offered") in found
    assert ("condition", "rheumatoid_arthritis", "offered") not in found


def test_advice_to_call_your_doctor_is_not_a_clinic_voice():
    text = "Back pain usually improves. Call your doctor if you notice loss of bladder control."
    assert roles(text, "urinary_incontinence") == {"mentioned"}


def test_heading_what_is_x_is_a_mention():
    html = """<html><body><h2>What is Autism?</h2><p>Autism is a developmental condition.</p>
    <p>Our stem cell clinic.</p></body></html>"""
    assert roles(html, "autism_spectrum_disorder", "text/html") == {"mentioned"}


def test_plural_hyphen_apostrophe_and_glued_variants():
    text = "Our stem cell clinic treats spinal-cord injuries, Parkinsons, and Alzheimer’s, using umbilical-cord MSCs."
    found = claims(text)
    assert ("condition", "spinal_cord_injury", "offered") in found
    assert ("condition", "parkinsons_disease", "offered") in found
    assert ("condition", "alzheimers_disease", "offered") in found
    assert ("cell_type", "umbilical_cord", "offered") in found  # "umbilical-cord MSCs" is one product
    assert ("condition", "rotator_cuff_tear", "offered") in claims("Our stem cell clinic treats rotator cuff tears.")
    assert ("cell_type", "msc", "offered") in claims("Our clinic uses MesenchymalStem cells.\n")  # glued, plain text


def test_coordinated_conditions():
    found = claims("Our stem cell clinic treats knee, hip or shoulder arthritis and type 1 and type 2 diabetes.")
    for term in ("knee_pain", "hip_pain", "shoulder_pain", "type_1_diabetes", "type_2_diabetes"):
        assert ("condition", term, "offered") in found


def test_research_news_does_not_offer():
    text = ("Researchers at a university hospital tested stem cells in 20 patients with ALS. "
            "The study found the infusions were safe.")
    found = claims(text)
    assert not any(role == "offered" for kind, _t, role in found if kind == "condition")
    assert ("condition", "als", "mentioned") in found


def test_reported_red_flag_is_a_mention():
    text = "The FDA warns that some clinics promise a cure for autism with stem cells."
    assert ("red_flag", "cure_reverse_claim", "mentioned") in claims(text)


def test_pages_without_stem_cell_wording_have_no_red_flags_or_products():
    text = "My dad lives with arthritis. This herbal infusion is guaranteed to help. A bowl costs $6."
    found = claims(text)
    assert found == {("condition", "osteoarthritis", "mentioned")}


@pytest.mark.parametrize("text,amount,currency", [
    ("The stem cell package costs $15,000.", 15000, "USD"),
    ("The stem cell package costs USD 9,500.", 9500, "USD"),
    ("The stem cell package costs €8.000.", 8000, "EUR"),
    ("The stem cell package costs from 12 000 EUR.", 12000, "EUR"),
    ("The stem cell package costs 8.500 € per area.", 8500, "EUR"),
    ("The stem cell package costs £1,200.50.", 1200.5, "GBP"),
    ("The stem cell package costs $5k.", 5000, "USD"),
])
def test_price_parsing(text, amount, currency):
    prices = [c for c in extract(text, content_type="text/plain").claims if c.kind == "price"]
    assert [(p.term, p.detail) for p in prices] == [("price", {"amount": amount, "currency": currency})]


def test_money_that_is_not_a_price():
    text = "Our stem cell institute received a $2 million grant."
    assert not [c for c in extract(text, content_type="text/plain").claims if c.kind == "price"]


def test_several_prices_in_one_sentence_are_kept():
    text = "Our stem cell packages cost $9,500 to $15,000."
    amounts = [c.detail["amount"] for c in extract(text, content_type="text/plain").claims if c.kind == "price"]
    assert amounts == [9500, 15000]


def test_statistics():
    text = ("85% of patients improved after our stem cell therapy. Our success rate is 92%. "
            "Over 3,000 patients treated at our clinic. 20% off all packages this month.")
    ex = extract(text, content_type="text/plain")
    stats = [(c.term, c.detail) for c in ex.claims if c.kind == "statistic"]
    assert stats == [("success_rate", {"value": 85, "unit": "%"}), ("success_rate", {"value": 92, "unit": "%"}),
                     ("patient_count", {"value": 3000, "unit": "patients"})]
    assert ("red_flag", "success_rate_statistic", "offered") in {(c.kind, c.term, c.role) for c in ex.claims}


def test_claim_fields_point_into_the_text():
    html = """<html><body><h2>Knee care</h2><p>Intro. We treat knee pain with PRP injections.</p></body></html>"""
    ex = extract(html, content_type="text/html")
    knee = next(c for c in ex.claims if c.term == "knee_pain")
    assert ex.text[knee.start:knee.end] == "knee pain"
    assert knee.evidence == "We treat knee pain with PRP injections."
    assert knee.section == "Knee care" and knee.zone == "main"
    assert knee.as_dict()["term"] == "knee_pain" and knee.as_dict()["detail"] is None


def test_exclusion_pointing_back_at_previous_sentence():
    from crawler.claims import extract

    html = ("<html><body><main><h1>Conditions we treat</h1><h2>Not sure?</h2>"
            "<p>We are often asked about Parkinson's disease and ALS. We do not currently offer treatment "
            "for these conditions.</p></main></body></html>")
    roles = {(c.term, c.role) for c in extract(html).claims if c.kind == "condition"}
    assert roles == {("parkinsons_disease", "excluded"), ("als", "excluded")}
