"""What a report tells a lay reader about each built-in dataset.

A short, plain summary of the dataset cards in ``datasets/*.md`` (the full
cards, with checksums and how to obtain the data, stay there): what the images
are, how the people in them were labelled, the citation and the licence. A
custom manifest's audit spec gives the same four things itself
(``[dataset] description``, ``label_origin``, ``citation``, ``licence``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetCard:
    """A dataset in a reader's terms. ``description``: what the images are and are
    not; ``label_origin``: who or what assigned the group labels; ``citation`` and
    ``licence`` as the authors give them."""

    description: str = ""
    label_origin: str = ""
    citation: str = ""
    licence: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"description": self.description, "label_origin": self.label_origin,
                "citation": self.citation, "licence": self.licence}


CARDS: dict[str, DatasetCard] = {
    "lfw": DatasetCard(
        description=(
            "Labeled Faces in the Wild (LFW): 13,233 news photographs of 5,749 people, "
            "mostly public figures, collected from the web; one face roughly centred in each "
            "image. They are posed or press photographs, not camera footage of a crowd. LFW's "
            "own site warns that it was not designed to evaluate commercial face recognition "
            "and that many groups are poorly represented (very few children or people over 80, "
            "a relatively small share of women, many ethnicities with little or no "
            "representation)."),
        label_origin=(
            "gender labels from a separate, later annotation (AFIF4) of the images, binary "
            "(male or female); LFW records no ethnicity or age"),
        citation=(
            "G. B. Huang, M. Ramesh, T. Berg, E. Learned-Miller. Labeled Faces in the Wild: A "
            "Database for Studying Face Recognition in Unconstrained Environments. University "
            "of Massachusetts, Amherst, Technical Report 07-49, 2007. Gender labels: M. Afifi, "
            "A. Abdelhamed. AFIF4: Deep Gender Classification based on AdaBoost-based Fusion "
            "of Isolated Facial Features and Foggy Faces. arXiv:1706.04277, 2017."),
        licence=(
            "no licence stated; the images are news photographs whose copyright stays with "
            "their owners, distributed for research"),
    ),
    "utkface": DatasetCard(
        description=(
            "UTKFace (aligned and cropped): face images collected from the web of people aged "
            "0 to 116, cropped to the face. There are no identity labels: each image is "
            "assumed to show a different person, so only false matches and false alerts (not "
            "misses) can be measured. They are not camera footage of a crowd."),
        label_origin=(
            "age, gender and race labels assigned by annotators (partly estimated by an "
            "algorithm, then checked by people), not given by the people pictured; gender is "
            "binary and race uses the authors' five coarse categories"),
        citation=(
            "Z. Zhang, Y. Song, H. Qi. Age Progression/Regression by Conditional Adversarial "
            "Autoencoder. IEEE Conference on Computer Vision and Pattern Recognition (CVPR), "
            "2017."),
        licence=(
            "non-commercial research purposes only; the copyright of the images stays with "
            "their owners"),
    ),
}


def card(name: str) -> DatasetCard:
    """The card of a built-in dataset; an empty card for any other (a custom manifest)."""
    return CARDS.get(name, DatasetCard())


def described(name: str, **given: str) -> dict[str, str]:
    """The card of ``name`` as a dict, with every non-empty ``given`` field
    (from the audit spec) in place of the card's."""
    found = card(name).as_dict()
    return {key: (given.get(key) or value) for key, value in found.items()}
