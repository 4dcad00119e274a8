"""Model Spider (Zhang et al., NeurIPS 2023): learn to rank pre-trained models.

https://arxiv.org/abs/2306.03900
"""

from weightzoo.select.spider.loss import plackett_luce_loss
from weightzoo.select.spider.scorer import SpiderScorer, task_prototypes
from weightzoo.select.spider.spider import SPIDER_URL, ModelSpider, SpiderRanking, SpiderTask

__all__ = [
    "SPIDER_URL",
    "ModelSpider",
    "SpiderRanking",
    "SpiderScorer",
    "SpiderTask",
    "plackett_luce_loss",
    "task_prototypes",
]
